import ArgumentParser
import FormnetAgent

struct ListRelays: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-relays",
        abstract: "List the relays a network may use (or every installed network's): home, health, RTT, distance, load, source.",
        discussion: "Health, home and RTT come from the network's running daemon; without one, from the relay registry.")

    @Argument(help: "Network name; every installed network when omitted.") var network: String?
    @Flag(help: "Print JSON, for scripts: an object for NETWORK, else an array with one object per network.") var json = false
    @OptionGroup var options: MemberOptions

    func run() throws {
        let paths = options.agentOptions.paths
        if let network { _ = try options.member(network).config() }
        let installed = network.map { [$0] } ?? Member.installed(in: paths)
        let networks: [String?] = installed.isEmpty ? [nil] : installed
        let logger = options.logger
        let views = networks.map { RelayList.view(network: $0, paths: paths, warn: { logger.warning("\($0)") }) }
        if json {
            print(try ScriptJSON.encode(views, single: network != nil))
        } else {
            print(views.map { RelayList.render($0) }.joined(separator: "\n\n"))
        }
    }
}
