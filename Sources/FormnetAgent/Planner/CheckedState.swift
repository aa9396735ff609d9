import FormnetKit
import WireGuard

/// A state from the server after the key-pinning check (`StateSync.check`), with what the
/// planner needs from the state before it.
public struct CheckedState: Sendable, Equatable {
    /// Peers whose keys conflict with pinned ones are left as pinned.
    public var state: API.State
    public var pins: [String: PublicKey]
    public var conflicts: [KeyPinning.Conflict]
    /// The server's view of each peer's endpoint in the state applied before this one: an
    /// endpoint the server has not changed since must not overwrite the one WireGuard roamed to.
    public var previousEndpoints: [PublicKey: Endpoint]
}
