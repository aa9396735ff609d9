import WireGuard

/// Which end of a pair of members leads it, decided by their keys alone so that both ends agree
/// without a word: the leader's relay carries the pair (the follower answers through the relay
/// the leader's packets arrive through), and the leader's handshake is the one both ends keep
/// when two cross (`RouteTable.admitInbound`; the planner's re-sent initiations).
public enum PairRoles {
    /// Whether `own` follows `peer`: the greater key follows.
    public static func follows(_ own: PublicKey, peer: PublicKey) -> Bool {
        peer.bytes.lexicographicallyPrecedes(own.bytes)
    }

    public static func leads(_ own: PublicKey, peer: PublicKey) -> Bool {
        own != peer && !follows(own, peer: peer)
    }
}
