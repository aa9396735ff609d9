import ArgumentParser
import FormnetAgent

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a network (or every installed one): this peer and each peer's IP, endpoint, handshake and transfer.")

    @Argument(help: "Network name; every installed network when omitted.") var network: String?
    @Flag(help: "One line per peer.") var short = false
    @Flag(help: "Group peers by CIDR.") var tree = false
    @Flag(help: "Print JSON, for scripts: an object for NETWORK, else an array with one object per network.") var json = false
    @OptionGroup var options: MemberOptions

    func run() throws {
        let networks = network.map { [$0] } ?? Member.installed(in: options.agentOptions.paths)
        if json {
            print(try ScriptJSON.encode(networks.map { try options.member($0).showSnapshot() }, single: network != nil))
            return
        }
        for (index, name) in networks.enumerated() {
            if index > 0 { print() }
            print(try options.member(name).show(short: short, tree: tree))
        }
    }
}
