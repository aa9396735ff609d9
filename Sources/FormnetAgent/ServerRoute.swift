import FormnetKit
import FormnetRelay
import WireGuard

/// How this member's WireGuard reaches the coordination server: at the server's external
/// endpoint, or, while this member's UDP is blocked, through its relays. The server registers
/// with every relay of its network (`formnet-server serve`), so the relay that carries this
/// member's peers carries the server's packets too, and the API, which is served over the
/// tunnel, stays in reach: new peers, key changes and relay lists keep arriving.
struct ServerRoute {
    let key: PublicKey
    let external: Endpoint
    /// The endpoint last given to WireGuard for the server.
    private(set) var current: Endpoint

    init(server: InterfaceConfig.Server) {
        key = server.publicKey
        external = server.externalEndpoint
        current = server.externalEndpoint
    }

    /// Moves the server onto a relay or off it as this member's NAT type and relays require, and
    /// returns the change to WireGuard's endpoint for the server, if any.
    mutating func update(device: Device, ownNat: NatType, relay: RelayManager?, status: RelayEngineStatus?) -> DeviceUpdate {
        let wanted: Endpoint
        if ownNat == .udpBlocked, let relay, let status, relay.hasUsableRelay(status) {
            if relay.proxy(for: key) == nil { _ = relay.route(key, peerRelays: []) }
            wanted = relay.wireGuardEndpoint(for: key, status: status) ?? external
        } else {
            if relay?.proxy(for: key) != nil { relay?.unroute(key) }
            wanted = external
        }
        current = wanted
        guard let peer = device.peers.first(where: { $0.publicKey == key }), peer.endpoint != wanted else { return DeviceUpdate() }
        return DeviceUpdate(peers: [PeerUpdate(publicKey: key, action: .updateOnly, endpoint: wanted)])
    }
}
