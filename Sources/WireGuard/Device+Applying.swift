/// The device as an update leaves it, worked out without asking the device: the member
/// daemon's planner decides several updates in one pass, each on what the ones before it left,
/// and reads the device once. Counters and handshakes are the device's to know: a peer the
/// update adds starts with none, as it does on the device.
extension Device {
    public func applying(_ update: DeviceUpdate) -> Device {
        var device = self
        if let key = update.privateKey {
            device.privateKey = key
            device.publicKey = key.publicKey
        }
        if let port = update.listenPort { device.listenPort = port }
        if let mark = update.fwmark { device.fwmark = mark }
        if update.replacePeers { device.peers = [] }
        for change in update.peers {
            let index = device.peers.firstIndex { $0.publicKey == change.publicKey }
            switch (change.action, index) {
            case (.remove, let index?):
                device.peers.remove(at: index)
            case (.remove, nil), (.updateOnly, nil):
                continue
            case (.addOrUpdate, nil):
                var peer = Peer(publicKey: change.publicKey)
                peer.apply(change)
                device.peers.append(peer)
            case (_, let index?):
                device.peers[index].apply(change)
            }
        }
        return device
    }
}

extension Peer {
    fileprivate mutating func apply(_ change: PeerUpdate) {
        if let key = change.presharedKey { presharedKey = key }
        if let endpoint = change.endpoint { self.endpoint = endpoint }
        if let keepalive = change.persistentKeepalive { persistentKeepalive = keepalive }
        if change.replaceAllowedIPs { allowedIPs = [] }
        for network in change.allowedIPs where !allowedIPs.contains(network) { allowedIPs.append(network) }
    }
}
