/// A WireGuard interface brought up as wg-quick does: created, its device configured, its
/// addresses added, its MTU set, its link up and its routes added. If any step after the
/// creation fails the interface is removed again, so nothing is left half-made.
public struct InterfaceBringUp: Sendable, Equatable {
    /// Key, port and peers, applied to the new device as given.
    public var configuration: DeviceUpdate
    public var addresses: [IPNetwork]
    public var mtu: UInt32
    /// Networks routed through the interface, in this order.
    public var routes: [IPNetwork]

    public init(configuration: DeviceUpdate, addresses: [IPNetwork], mtu: UInt32, routes: [IPNetwork]) {
        self.configuration = configuration
        self.addresses = addresses
        self.mtu = mtu
        self.routes = routes
    }

    /// A device with this key and port whose peers are exactly `peers`.
    public init(privateKey: PrivateKey, listenPort: UInt16, peers: [DesiredPeer], addresses: [IPNetwork], mtu: UInt32,
                routes: [IPNetwork]) {
        self.init(configuration: DeviceUpdate(privateKey: privateKey, listenPort: listenPort, replacePeers: true,
                                              peers: PeerDiff.update(current: [], desired: peers).peers),
                  addresses: addresses, mtu: mtu, routes: routes)
    }

    public func run(named name: String, backend: any WireGuardBackend, links: any LinkControl) throws {
        try backend.createInterface(named: name)
        do {
            try configure(name, backend: backend, links: links)
        } catch {
            try? backend.deleteInterface(named: name)
            throw error
        }
    }

    /// `run`, or, when the interface exists already, the same configuration applied to it (true
    /// then): a `formnet-server serve` killed without its cleanup leaves wireguard-go and its
    /// interface behind, and its restart failed with "interface already exists" until someone
    /// removed it by hand. A failure leaves the interface in place (it was not this call's to remove).
    public func runOrTakeOver(named name: String, backend: any WireGuardBackend, links: any LinkControl) throws -> Bool {
        guard (try? backend.device(named: name)) != nil else {
            try run(named: name, backend: backend, links: links)
            return false
        }
        try configure(name, backend: backend, links: links)
        return true
    }

    /// Key, port, peers, addresses (added or replaced), MTU, up, routes: wg-quick's order.
    private func configure(_ name: String, backend: any WireGuardBackend, links: any LinkControl) throws {
        try backend.apply(configuration, to: name)
        for address in addresses { try links.addAddress(address, to: name) }
        try links.setMTU(mtu, on: name)
        try links.setUp(true, name: name)
        for route in routes { try links.addRoute(route, via: name) }
    }
}
