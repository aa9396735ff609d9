import FormnetKit
import RelayClient
import WireGuard

/// How this member's WireGuard reaches the coordination server: at the server's external
/// endpoint, or, while this member's UDP is blocked, through its relays. The server registers
/// with every relay of its network (`formnet-server serve`), so the relay that carries this
/// member's peers carries the server's packets too, and the API, which is served over the
/// tunnel, stays in reach: new peers, key changes and relay lists keep arriving.
///
/// The NAT type alone does not decide: a member is taken for UDP-blocked when its relays answer
/// only over TCP, which a slow first answer also causes, and moving a working server path onto
/// relays that may not carry it would cut the member off. So the server moves onto the relays
/// only when its direct path is silent (`PathWatch`: WireGuard sent, nothing came back for 30 s),
/// and back when the relayed one is; then the relays are left alone for `relayHold`.
struct ServerRoute {
    let key: PublicKey
    let external: Endpoint
    /// The endpoint last given to WireGuard for the server.
    private(set) var current: Endpoint
    private var watch: PathWatch?
    private var relaysHeldUntil = -Double.infinity

    static let relayHold = 300.0

    /// Where WireGuard reaches the server now, for a state's peer diff: a proxy still being
    /// opened counts as the route's proxy once the engine has it, else as the external endpoint.
    func endpoint(relay: RelayRoutes?) -> Endpoint {
        guard current == MemberPlan.pendingProxy else { return current }
        return relay?.proxy(for: key).flatMap { $0 == MemberPlan.pendingProxy ? nil : $0 } ?? external
    }

    init(server: InterfaceConfig.Server) {
        key = server.publicKey
        external = server.externalEndpoint
        current = server.externalEndpoint
    }

    /// Moves the server onto a relay or off it, and returns the change to WireGuard's endpoint
    /// for the server, if any.
    mutating func update(device: Device, ownNat: NatType, relay: inout RelayRoutes?, now: Double) -> DeviceUpdate {
        guard let peer = device.peers.first(where: { $0.publicKey == key }) else { return DeviceUpdate() }
        let silent = peer.endpoint.map { PathWatch.isSilent(&watch, peer: peer, at: $0, now: now) } ?? false
        let routed = relay?.proxy(for: key) != nil
        var wanted = external
        if ownNat == .udpBlocked, relay?.hasUsableRelay == true, now >= relaysHeldUntil {
            if routed && silent {
                relay?.unroute(key)
                relaysHeldUntil = now + Self.relayHold
            } else if routed || silent {
                if !routed { _ = relay?.route(key, peerRelays: []) }
                wanted = relay?.wireGuardEndpoint(for: key) ?? external
            }
        } else if routed {
            relay?.unroute(key)
        }
        current = wanted
        guard peer.endpoint != wanted else { return DeviceUpdate() }
        watch = nil
        return DeviceUpdate(peers: [PeerUpdate(publicKey: key, action: .updateOnly, endpoint: wanted)])
    }
}
