import FormnetKit
import Foundation
import WireGuard

/// Which peers a member may see, as innernet decides it (its `get_all_allowed_peers` query):
/// the CIDRs a peer may see are its own CIDR, the server's infrastructure CIDR, every CIDR
/// associated with its CIDR or with any ancestor of it, and all descendants of those. Of the
/// peers in those CIDRs it sees the enabled, redeemed ones: a disabled peer is gone from
/// everyone's view, and an unredeemed invitation still holds a throwaway key that nobody but
/// the server has any use for (the server carries it as a WireGuard peer so the invitee can
/// reach the API to redeem; members learn the peer when it has its own key).
public enum Visibility {
    /// Ids of the CIDRs whose peers a peer of `cidrID` may see.
    public static func visibleCidrIDs(from cidrID: Int64, infrastructure: Int64?, cidrs: [Cidr],
                                      associations: [Association]) -> Set<Int64> {
        let byID = Dictionary(cidrs.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var ancestry: Set<Int64> = []
        var cursor: Int64? = cidrID
        while let id = cursor, byID[id] != nil, ancestry.insert(id).inserted {
            cursor = byID[id]?.parent
        }
        var roots: Set<Int64> = [cidrID]
        if let infrastructure { roots.insert(infrastructure) }
        for association in associations {
            if ancestry.contains(association.cidrId1) { roots.insert(association.cidrId2) }
            if ancestry.contains(association.cidrId2) { roots.insert(association.cidrId1) }
        }
        return withDescendants(roots, cidrs: cidrs)
    }

    /// `ids` and every CIDR below any of them.
    public static func withDescendants(_ ids: Set<Int64>, cidrs: [Cidr]) -> Set<Int64> {
        var children: [Int64: [Int64]] = [:]
        for cidr in cidrs {
            if let parent = cidr.parent { children[parent, default: []].append(cidr.id) }
        }
        var result: Set<Int64> = []
        var pending = Array(ids)
        while let id = pending.popLast() {
            guard result.insert(id).inserted else { continue }
            pending.append(contentsOf: children[id] ?? [])
        }
        return result
    }

    /// The state a member gets: the peers it may see (itself included), the CIDRs they are
    /// in together with those CIDRs' ancestors, so the member can draw them as one tree
    /// rooted at the network without learning the ranges of CIDRs it cannot see, and the
    /// network's relays.
    public static func state(for caller: NetworkPeer, in snapshot: NetworkSnapshot, infrastructure: Int64?,
                             now: Date) -> API.State {
        let visible = visibleCidrIDs(from: caller.cidrId, infrastructure: infrastructure,
                                     cidrs: snapshot.cidrs, associations: snapshot.associations)
        let peers = snapshot.peers.filter { visible.contains($0.cidrId) && !$0.isDisabled && $0.isRedeemed }
        let byID = Dictionary(snapshot.cidrs.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var shown: Set<Int64> = []
        for id in visible {
            var cursor: Int64? = id
            while let current = cursor, byID[current] != nil, shown.insert(current).inserted {
                cursor = byID[current]?.parent
            }
        }
        return API.State(peers: peers, cidrs: snapshot.cidrs.filter { shown.contains($0.id) },
                         relays: relays(in: snapshot, now: now))
    }

    /// The relays every member is given, whatever CIDRs it may see: a relay serves the whole
    /// network, and a member that runs one chooses to be reachable by all of it. Listed are
    /// live announcements of enabled members, at the explicit endpoint, else at the member's
    /// endpoint address with the announced port; a relay with neither is left out.
    public static func relays(in snapshot: NetworkSnapshot, now: Date) -> [NetworkRelay] {
        let hosts = Dictionary(snapshot.peers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        return snapshot.relays.compactMap { stored in
            guard let host = hosts[stored.peerId], !host.isDisabled, host.isRedeemed, stored.isLive(at: now) else { return nil }
            let announced = stored.announcement
            guard let endpoint = announced.endpoint ?? host.endpoint.map({ Endpoint(address: $0.address, port: announced.port) }) else {
                return nil
            }
            return NetworkRelay(publicKey: announced.publicKey, endpoint: endpoint, location: announced.location,
                                capacity: announced.capacity, load: announced.load, peerId: stored.peerId,
                                lastSeen: stored.lastSeen)
        }
    }
}
