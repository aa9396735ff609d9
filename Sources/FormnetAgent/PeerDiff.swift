import WireGuard

/// The smallest device update that turns the device's current peers into the desired ones.
///
/// A peer that is already right is not touched, so its live session and the endpoint WireGuard
/// roamed to survive a fetch. An endpoint is set only for a new peer, a peer that has none, or
/// when the server's view of it changed since the last fetch (`previousEndpoints`): otherwise
/// the endpoint WireGuard learned from the peer's own packets is newer than the server's.
public enum PeerDiff {
    public static func update(current: [Peer], desired: [DesiredPeer],
                              previousEndpoints: [PublicKey: Endpoint] = [:]) -> DeviceUpdate {
        var updates: [PeerUpdate] = []
        let currentByKey = Dictionary(current.map { ($0.publicKey, $0) }, uniquingKeysWith: { first, _ in first })
        for want in desired {
            guard let have = currentByKey[want.publicKey] else {
                updates.append(PeerUpdate(publicKey: want.publicKey, endpoint: want.endpoint,
                                          persistentKeepalive: want.persistentKeepalive,
                                          replaceAllowedIPs: true, allowedIPs: want.allowedIPs))
                continue
            }
            var change = PeerUpdate(publicKey: want.publicKey, action: .updateOnly)
            var changed = false
            if Set(have.allowedIPs.map(\.canonical)) != Set(want.allowedIPs.map(\.canonical)) {
                change.replaceAllowedIPs = true
                change.allowedIPs = want.allowedIPs
                changed = true
            }
            if have.persistentKeepalive != want.persistentKeepalive {
                change.persistentKeepalive = want.persistentKeepalive
                changed = true
            }
            if let endpoint = want.endpoint, have.endpoint != endpoint,
               have.endpoint == nil || previousEndpoints[want.publicKey] != endpoint {
                change.endpoint = endpoint
                changed = true
            }
            if changed { updates.append(change) }
        }
        let wanted = Set(desired.map(\.publicKey))
        for peer in current where !wanted.contains(peer.publicKey) {
            updates.append(.remove(peer.publicKey))
        }
        return DeviceUpdate(peers: updates)
    }
}
