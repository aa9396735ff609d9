/// The smallest device update that turns the device's current peers into the desired ones.
///
/// A peer that is already right is not touched, so its live session and the endpoint WireGuard
/// roamed to survive. Peers no longer desired are removed, new ones added with everything, and
/// the allowed IPs of present ones corrected; what else of a present peer is corrected depends
/// on who owns it (`Correction`).
public enum PeerDiff {
    /// What of a present peer, besides its allowed IPs, the diff corrects.
    public enum Correction: Sendable, Equatable {
        /// Its keepalive, and its endpoint when the device has none or the source's view of it
        /// changed since `previousEndpoints`: otherwise the endpoint WireGuard learned from the
        /// peer's own packets is newer than the source's. Members follow the server's state so.
        case keepaliveAndEndpoint(previousEndpoints: [PublicKey: Endpoint])
        /// Nothing: the keepalive stays what the peer was added with, and the endpoint is left to
        /// WireGuard's roaming. The server follows its store so: a stored endpoint is only where
        /// a peer starts, and roaming follows members from there.
        case allowedIPsOnly
    }

    public static func update(current: [Peer], desired: [DesiredPeer],
                              previousEndpoints: [PublicKey: Endpoint] = [:]) -> DeviceUpdate {
        update(current: current, desired: desired, correcting: .keepaliveAndEndpoint(previousEndpoints: previousEndpoints))
    }

    public static func update(current: [Peer], desired: [DesiredPeer], correcting correction: Correction) -> DeviceUpdate {
        let wanted = Set(desired.map(\.publicKey))
        var updates: [PeerUpdate] = current.filter { !wanted.contains($0.publicKey) }.map { .remove($0.publicKey) }
        let currentByKey = Dictionary(current.map { ($0.publicKey, $0) }, uniquingKeysWith: { first, _ in first })
        for want in desired {
            guard let have = currentByKey[want.publicKey] else {
                updates.append(PeerUpdate(publicKey: want.publicKey, endpoint: want.endpoint,
                                          persistentKeepalive: want.persistentKeepalive,
                                          replaceAllowedIPs: true, allowedIPs: want.allowedIPs))
                continue
            }
            if let change = correction.change(from: have, to: want) { updates.append(change) }
        }
        return DeviceUpdate(peers: updates)
    }
}

extension PeerDiff.Correction {
    /// The update-only change that corrects a present peer, or nil when it is right.
    func change(from have: Peer, to want: DesiredPeer) -> PeerUpdate? {
        var change = PeerUpdate(publicKey: want.publicKey, action: .updateOnly)
        var changed = false
        if Set(have.allowedIPs.map(\.canonical)) != Set(want.allowedIPs.map(\.canonical)) {
            change.replaceAllowedIPs = true
            change.allowedIPs = want.allowedIPs
            changed = true
        }
        guard case .keepaliveAndEndpoint(let previousEndpoints) = self else { return changed ? change : nil }
        if have.persistentKeepalive != want.persistentKeepalive {
            change.persistentKeepalive = want.persistentKeepalive
            changed = true
        }
        if let endpoint = want.endpoint, have.endpoint != endpoint,
           have.endpoint == nil || previousEndpoints[want.publicKey] != endpoint {
            change.endpoint = endpoint
            changed = true
        }
        return changed ? change : nil
    }
}
