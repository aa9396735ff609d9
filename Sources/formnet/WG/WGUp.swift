import ArgumentParser
import WireGuard

struct WGUp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Create an interface, configure it from a wg(8) config file, address it and bring it up.",
        discussion: """
            Like wg-quick up: the config is applied with its peers replacing any others, the addresses \
            are added, the MTU set, the link brought up and a route added for every allowed IP. \
            If any step fails the interface is removed again, so nothing is left half-configured.
            """)

    @OptionGroup var name: InterfaceArgument
    @OptionGroup var backend: BackendOptions
    @Option(help: "wg(8) config file ([Interface] PrivateKey/ListenPort/FwMark, [Peer] sections); must be mode 0600.")
    var config: String
    @Option(name: .customLong("address"), help: "Interface address with prefix, e.g. 10.0.0.1/24 (repeatable).")
    var addresses: [String] = []
    @Option(help: "Interface MTU.")
    var mtu: UInt32 = 1420
    @Flag(help: "Do not add routes for peers' allowed IPs.")
    var noRouting = false

    func run() throws {
        let device = try ConfigFile.parse(try SecretFile.read(config), name: name.interface)
        let networks = try addresses.map { text in
            guard let net = IPNetwork(text) else { throw ValidationError("invalid --address '\(text)': want ADDRESS/PREFIX") }
            return net
        }
        guard (1280...65535).contains(mtu) || (576...65535).contains(mtu) && networks.allSatisfy(\.address.isIPv4) else {
            throw ValidationError("--mtu \(mtu) is out of range (576–65535; at least 1280 with an IPv6 address)")
        }
        let routes = noRouting ? [] : Array(Set(device.peers.flatMap(\.allowedIPs).map(\.canonical)))
        try InterfaceBringUp(configuration: .replacing(with: device), addresses: networks, mtu: mtu, routes: routes)
            .run(named: name.interface, backend: backend.make(), links: RouteNetlink())
    }
}
