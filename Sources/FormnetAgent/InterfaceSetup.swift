import FormnetKit
import WireGuard

/// A member's WireGuard interface made from its config (`InterfaceBringUp`): key and port, the
/// given peers, the address with the network's prefix, MTU, and a route for the whole network.
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
        try InterfaceBringUp(privateKey: privateKey, listenPort: config.interface.listenPort ?? 0, peers: peers,
                             addresses: [config.interface.address], mtu: mtu,
                             routes: options.routing ? [config.interface.address.canonical] : [])
            .run(named: name, backend: backend, links: links)
    }

    public func exists(_ name: String) -> Bool {
        (try? backend.device(named: name)) != nil
    }
}
