import FormnetKit
import WireGuard

/// Trust on first use for peers' keys: the first key seen for a tunnel IP is pinned, and a
/// later state that gives that IP another key is refused for that peer, so a compromised or
/// mistaken server cannot silently swap a member's identity.
public enum KeyPinning {
    public struct Conflict: Sendable, Equatable, CustomStringConvertible {
        public var name: String
        public var ip: IPAddress
        public var pinned: PublicKey
        public var offered: PublicKey

        public var description: String {
            "refused peer '\(name)' (\(ip)): the server now gives it key \(offered), but \(pinned) is pinned for that IP; "
                + "if the change is intended, remove \(ip) from the peer cache's pinned keys"
        }
    }

    public struct Outcome: Sendable, Equatable {
        /// The state with refused peers replaced by what was known of them before (or left out).
        public var state: API.State
        public var conflicts: [Conflict]
        /// Pins after this state: the old ones plus the keys of newly seen IPs.
        public var pins: [String: PublicKey]
    }

    /// Only redeemed peers are pinned: an unredeemed peer still holds the invitation key that
    /// redeeming replaces.
    public static func check(_ state: API.State, pins: [String: PublicKey], previous: API.State?) -> Outcome {
        var pins = pins
        var conflicts: [Conflict] = []
        var peers: [NetworkPeer] = []
        for peer in state.peers {
            guard peer.isRedeemed else {
                peers.append(peer)
                continue
            }
            let ip = peer.ip.description
            if let pinned = pins[ip], pinned != peer.publicKey {
                conflicts.append(Conflict(name: peer.name, ip: peer.ip, pinned: pinned, offered: peer.publicKey))
                if let known = previous?.peers.first(where: { $0.ip == peer.ip && $0.publicKey == pinned }) {
                    peers.append(known)
                }
                continue
            }
            pins[ip] = peer.publicKey
            peers.append(peer)
        }
        return Outcome(state: API.State(peers: peers, cidrs: state.cidrs, relays: state.relays), conflicts: conflicts, pins: pins)
    }
}
