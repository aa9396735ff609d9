import ArgumentParser
import FormnetAgent

struct ConfigureRelay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "configure-relay",
        abstract: "Turn relay fallback on or off for a network (or every installed one).",
        discussion: "Kept in the interface config as relay-fallback; a running daemon takes it at its next start.")

    @Argument(help: "Network name; every installed network when omitted.") var network: String?
    @Flag(help: "Relay peers that cannot be reached directly (the default).") var enable = false
    @Flag(help: "Never relay; peers that cannot be reached directly stay unreachable.") var disable = false
    @OptionGroup var options: MemberOptions

    func validate() throws {
        guard enable != disable else { throw ValidationError("give exactly one of --enable and --disable") }
    }

    func run() throws {
        let networks = network.map { [$0] } ?? Member.installed(in: options.agentOptions.paths)
        guard !networks.isEmpty else { throw ValidationError("no network is installed in \(options.configDir)") }
        for name in networks {
            let changed = try options.member(name).setRelayFallback(enable)
            print("\(name): relay fallback \(enable ? "enabled" : "disabled")\(changed ? "" : " (unchanged)")")
        }
    }
}
