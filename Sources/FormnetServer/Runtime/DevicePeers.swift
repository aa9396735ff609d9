import FormnetKit
import RelayClient
import Foundation
import WireGuard

/// What the server's WireGuard device should hold, and the changes that get it there.
public enum DevicePeers {
    /// Seconds; the same interval members use toward the server.
    public static let keepalive: UInt16 = 25

    /// Every enabled peer but the server itself, with its tunnel IP as its only allowed IP.
    /// Unredeemed invitations are included while unexpired, under their temporary key, so the
    /// invitee can reach the API to redeem. The endpoint is only a starting point (the one last
    /// recorded); WireGuard's roaming follows members from there. A peer with a known endpoint
    /// gets a keepalive: WireGuard sends one as soon as the peer is added, so a restarted server
    /// handshakes with its members at once instead of waiting for their session to time out.
    public static func desired(from peers: [NetworkPeer], serverAddress: IPAddress, now: Date,
                               deviceKey: (PublicKey) -> PublicKey = { $0 }) -> [Peer] {
        peers.compactMap { peer in
            guard peer.ip != serverAddress, !peer.isDisabled else { return nil }
            if !peer.isRedeemed, let expires = peer.inviteExpires, expires <= now { return nil }
            guard let host = IPNetwork(address: peer.ip, prefixLength: peer.ip.bitWidth) else { return nil }
            return Peer(publicKey: deviceKey(peer.publicKey), endpoint: peer.endpoint, allowedIPs: [host],
                        persistentKeepalive: peer.endpoint == nil ? 0 : keepalive)
        }
    }

    /// Updates that turn the device's `current` peers into `desired`: unknown keys removed,
    /// missing ones added, and allowed IPs corrected. Endpoints of present peers are left to
    /// WireGuard's roaming.
    public static func updates(current: [Peer], desired: [Peer]) -> [PeerUpdate] {
        let wanted = Dictionary(desired.map { ($0.publicKey, $0) }, uniquingKeysWith: { first, _ in first })
        let present = Dictionary(current.map { ($0.publicKey, $0) }, uniquingKeysWith: { first, _ in first })
        var updates: [PeerUpdate] = current.filter { wanted[$0.publicKey] == nil }.map { .remove($0.publicKey) }
        for peer in desired {
            guard let existing = present[peer.publicKey] else {
                updates.append(.add(peer))
                continue
            }
            if Set(existing.allowedIPs.map(\.canonical)) != Set(peer.allowedIPs.map(\.canonical)) {
                updates.append(.setAllowedIPs(peer.publicKey, peer.allowedIPs))
            }
        }
        return updates
    }

    /// The endpoints the device has seen its peers at. A loopback endpoint is the proxy of the
    /// server's relay client (the member reaches the server through a relay), not an address
    /// other members could use.
    public static func observedEndpoints(_ device: Device) -> [PublicKey: Endpoint] {
        Dictionary(device.peers.compactMap { peer in
            peer.endpoint.flatMap { RelayClientEngine.isProxy($0) ? nil : (peer.publicKey, $0) }
        }, uniquingKeysWith: { first, _ in first })
    }
}
