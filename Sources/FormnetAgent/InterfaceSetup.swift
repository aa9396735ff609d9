import FormnetKit
import WireGuard

/// Creating a member's WireGuard interface from its config, as wg-quick would: key and port,
/// the given peers, the address with the network's prefix, MTU, link up, and a route for the
/// whole network. If any step fails the interface is removed, so nothing is left half-made.
public struct InterfaceSetup {
    public let backend: any WireGuardBackend
    public let links: any LinkControl

    public init(backend: any WireGuardBackend, links: any LinkControl) {
        self.backend = backend
        self.links = links
    }

    public func bringUp(_ name: String, config: InterfaceConfig, peers: [DesiredPeer], options: AgentOptions) throws {
        guard let privateKey = config.privateKey else {
            throw AgentError.invalidInput("the config for '\(name)' has no valid private key")
        }
        let mtu = options.mtu ?? config.interface.mtu ?? AgentOptions.defaultMTU(relayFallback: config.interface.relayFallback != false)
        try backend.createInterface(named: name)
        do {
            try backend.apply(DeviceUpdate(privateKey: privateKey, listenPort: config.interface.listenPort ?? 0,
                                           replacePeers: true, peers: PeerDiff.update(current: [], desired: peers).peers),
                              to: name)
            try links.addAddress(config.interface.address, to: name)
            try links.setMTU(mtu, on: name)
            try links.setUp(true, name: name)
            if options.routing {
                try links.addRoute(config.interface.address.canonical, via: name)
            }
        } catch {
            try? backend.deleteInterface(named: name)
            throw error
        }
    }

    public func exists(_ name: String) -> Bool {
        (try? backend.device(named: name)) != nil
    }
}
