import ArgumentParser
import FormnetAgent

struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring a network's interface up and fetch its peers; with --daemon keep them current.",
        discussion: "SIGTERM or SIGINT ends the daemon; the interface stays up ('formnet down' removes it).")

    @OptionGroup var network: NetworkArgument
    @Flag(help: "Keep fetching every --interval seconds and report this host's addresses.") var daemon = false
    @Option(help: "Seconds between fetches with --daemon.") var interval = 60
    @OptionGroup var options: MemberOptions

    func validate() throws {
        guard interval > 0 else { throw ValidationError("--interval must be positive") }
    }

    func run() throws {
        if daemon { FetchLoop.catchStopSignals() }
        let member = try options.member(network.network)
        if let unreachable = try member.up() {
            member.logger.warning("\(network.network): up with the cached peers; \(unreachable)")
        }
        if daemon {
            try FetchLoop(member: member, interval: .seconds(interval)).run()
        }
    }
}
