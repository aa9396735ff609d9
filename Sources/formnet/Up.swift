import ArgumentParser
import FormnetAgent
import WireGuard

struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring a network's interface up and fetch its peers; with --daemon keep them current.",
        discussion: "SIGTERM or SIGINT ends the daemon; the interface stays up ('formnet down' removes it).")

    @OptionGroup var network: NetworkArgument
    @Flag(help: "Keep the peers current (long-polling the server), report this host's addresses and NAT type, and traverse NATs.")
    var daemon = false
    @Option(help: "With --daemon: longest wait for a state change, and seconds between candidate reports.") var interval = 60
    @Flag(help: "With --daemon: use the endpoints the server gives instead of trying candidates.") var noNatTraversal = false
    @Flag(help: "With --daemon: do not report this host's addresses as candidates.") var noNatCandidates = false
    @Option(help: ArgumentHelp("With --daemon: never report or try candidates in this network (repeatable).",
                               valueName: "CIDR"))
    var excludeNatCandidates: [String] = []
    @Option(help: ArgumentHelp("With --daemon: MaxMind DB for relay locations (default: the usual system paths).",
                               valueName: "PATH"))
    var geoipDb: String?
    @Option(help: ArgumentHelp("With --daemon: seconds between probes of this host's NAT type (a NAT that changes is noticed within this).",
                               valueName: "SECONDS"))
    var natProbeInterval = 300
    @OptionGroup var options: MemberOptions

    func validate() throws {
        guard interval > 0 else { throw ValidationError("--interval must be positive") }
        guard natProbeInterval > 0 else { throw ValidationError("--nat-probe-interval must be positive") }
        for cidr in excludeNatCandidates where IPNetwork(cidr) == nil {
            throw ValidationError("--exclude-nat-candidates \(cidr) is not a CIDR")
        }
    }

    func run() throws {
        if daemon { MemberDaemon.catchStopSignals() }
        let member = try options.member(network.network)
        if let unreachable = try member.up(fetch: !daemon) {
            member.logger.warning("\(network.network): up with the cached peers; \(unreachable)")
        }
        if daemon {
            let traversal = TraversalOptions(enabled: !noNatTraversal, reportHostCandidates: !noNatCandidates,
                                             excluded: excludeNatCandidates.compactMap(IPNetwork.init),
                                             natProbeInterval: .seconds(natProbeInterval), geoIPDatabase: geoipDb)
            try MemberDaemon(member: member, interval: .seconds(interval), traversal: traversal).run()
        }
    }
}
