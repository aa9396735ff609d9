import RelayClient
import WireGuard

/// What the planner asks of the relay client engine; the daemon carries the commands out in
/// order, before it applies the plan's device update.
enum RelayCommand: Sendable, Equatable {
    /// Keep standing registrations with these relays, home first; `known` are every relay of the
    /// network, where the engine may register on demand for a peer.
    case setRelays([RelayTarget], udpBlocked: Bool, known: [RelayTarget])
    /// Carry the peer's packets through the first usable relay of the list; opens the peer's
    /// loopback proxy, which `MemberPlan.resolving(proxies:)` puts into the device update.
    /// `peerRelays` (the peer's reported relays, home first) lead the list; when this member
    /// holds none of them the engine registers with one on demand.
    case route(PublicKey, preferring: [PublicKey], peerRelays: [PublicKey])
    case unroute(PublicKey)
    /// Stop using the peer's channel and ask its relay for none for a while: it carried
    /// nothing back (`ProbedPathWatch`).
    case refuseChannel(PublicKey)
    /// WireGuard's endpoint for the peer is this channel, not the route's: the peer's packets
    /// arrive through it (WireGuard roamed there), so the relay of that channel is the one they
    /// come through (`RelayClientEngine.noteChannelInbound`).
    case channelInbound(PublicKey, Endpoint)
    /// WireGuard's listen port, where the proxies deliver.
    case setWireGuardPort(UInt16)
}
