import RelayClient
import WireGuard

/// The peers this member routes through its relays, as the planner decides them within a step:
/// each decision is a `RelayCommand`, and a route's proxy is known from the engine's status
/// once the engine has opened it (`MemberPlan.pendingProxy` until then).
struct RelayRoutes: Sendable {
    /// The engine's view at the start of this step.
    private(set) var status: RelayEngineStatus
    /// Registered relays, home first: a route prefers the peer's relays among them, then ours.
    var ranked: [PublicKey] = []
    private var proxies: [PublicKey: Endpoint] = [:]
    /// Peers unrouted since `status` was taken: the engine closed the proxy the status shows.
    private var unrouted: Set<PublicKey> = []
    private(set) var commands: [RelayCommand] = []
    /// Channels given up, while the engine's status still shows them (it applies the command
    /// after this step): WireGuard is not pointed back at one meanwhile.
    private var refused: [PublicKey: Endpoint] = [:]

    init(status: RelayEngineStatus) {
        self.status = status
    }

    /// Starts a step: takes the engine's status, and the proxies it opened for the routes made
    /// before. A route whose proxy did not open is forgotten, so that it is planned again.
    mutating func begin(status: RelayEngineStatus) {
        self.status = status
        commands = []
        unrouted = []
        refused = refused.filter { peer, channel in status.routes[peer]?.channel == channel }
        for (peer, proxy) in proxies {
            if let route = status.routes[peer] {
                proxies[peer] = route.proxy
            } else if proxy == MemberPlan.pendingProxy {
                proxies[peer] = nil
            }
        }
    }

    /// The commands of this step, in order; the next `begin` clears them.
    mutating func take() -> [RelayCommand] {
        defer { commands = [] }
        return commands
    }

    /// Routes a peer through the relays and returns the proxy endpoint WireGuard must use:
    /// the peer's reported relays first (it is registered there; the engine registers with one
    /// on demand when this member holds none), then ours.
    mutating func route(_ peer: PublicKey, peerRelays: [PublicKey]) -> Endpoint {
        let preferences = peerRelays + ranked.filter { !peerRelays.contains($0) }
        commands.append(.route(peer, preferring: preferences, peerRelays: peerRelays))
        let open = unrouted.contains(peer) ? nil : status.routes[peer]?.proxy
        let proxy = proxies[peer] ?? open ?? MemberPlan.pendingProxy
        proxies[peer] = proxy
        return proxy
    }

    mutating func unroute(_ peer: PublicKey) {
        proxies[peer] = nil
        unrouted.insert(peer)
        commands.append(.unroute(peer))
    }

    mutating func refuseChannel(of peer: PublicKey) {
        if let channel = status.routes[peer]?.channel { refused[peer] = channel }
        commands.append(.refuseChannel(peer))
    }

    mutating func noteChannelInbound(of peer: PublicKey, through channel: Endpoint) {
        commands.append(.channelInbound(peer, channel))
    }

    /// The proxy of a peer this member routed (not a route the engine made on its own for
    /// packets that arrived through a relay).
    func proxy(for peer: PublicKey) -> Endpoint? { proxies[peer] }

    /// Where WireGuard should send a routed peer's packets: the relay's channel for it when one
    /// is granted and current (no hop through this agent), else the loopback proxy.
    func wireGuardEndpoint(for peer: PublicKey) -> Endpoint? {
        guard let proxy = proxies[peer] else { return nil }
        guard !unrouted.contains(peer), let channel = status.routes[peer]?.channel, channel != refused[peer] else { return proxy }
        return channel
    }

    /// Whether a relayed packet could leave now.
    var hasUsableRelay: Bool { status.links.values.contains { $0.usable } }

    /// Whether packets from this endpoint came through a relay: a proxy, or a relay's channel.
    func isRelayed(_ endpoint: Endpoint) -> Bool {
        RelayClientEngine.isProxy(endpoint) || status.grantedChannels.contains(endpoint)
    }
}
