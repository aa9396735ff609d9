import Glibc

/// WG_CMD_SET_DEVICE requests for a `DeviceUpdate`, split as wg(8) splits them so that each
/// fits the socket buffer: the first request carries the device attributes (and
/// WGDEVICE_F_REPLACE_PEERS); the following ones carry only the interface name and the peers
/// that did not fit. A peer whose allowed IPs do not all fit is closed and continued in the
/// next request under the same public key, with only its remaining allowed IPs and without
/// WGPEER_F_REPLACE_ALLOWEDIPS, which would drop the ones already sent.
enum SetDeviceRequests {
    /// Where the next request starts: a peer, and, when that peer was cut short, the first of
    /// its allowed IPs still to send.
    private struct Position: Equatable {
        var peer = 0
        var allowedIP: Int?
    }

    static func build(_ update: DeviceUpdate, interface: String, family: UInt16,
                      capacity: Int = NetlinkMessageBuilder.socketBufferSize) throws -> [[UInt8]] {
        var requests: [[UInt8]] = []
        var position = Position()
        repeat {
            let builder = WireGuardGenl.builder(
                family: family, command: WireGuardGenl.setDevice, flags: Netlink.request | Netlink.ack, capacity: capacity)
            builder.put(WireGuardGenl.Device.ifname, string: interface)
            if requests.isEmpty {
                putDeviceAttributes(update, into: builder)
                // The device attributes must fit whole; only peers may spill into later requests.
                guard !builder.overflowed else { return [try builder.message()] }
            }
            let start = position
            if position.peer < update.peers.count {
                position = putPeers(update.peers, from: position, into: builder)
                builder.clearOverflow()
            }
            if !requests.isEmpty && position == start {
                throw NetlinkFailure(errno: EMSGSIZE, message: "one peer does not fit in a \(capacity)-byte request")
            }
            requests.append(try builder.message())
        } while position.peer < update.peers.count
        return requests
    }

    private static func putDeviceAttributes(_ update: DeviceUpdate, into builder: NetlinkMessageBuilder) {
        if let key = update.privateKey {
            key.withUnsafeBytes { _ = builder.put(WireGuardGenl.Device.privateKey, raw: $0) }
        }
        if update.replacePeers {
            builder.put(WireGuardGenl.Device.flags, u32: WireGuardGenl.Device.replacePeers)
        }
        if let port = update.listenPort {
            builder.put(WireGuardGenl.Device.listenPort, u16: port)
        }
        if let fwmark = update.fwmark {
            builder.put(WireGuardGenl.Device.fwmark, u32: fwmark)
        }
    }

    /// Writes peers from `position` until the buffer is full; returns where the next request
    /// has to continue.
    private static func putPeers(_ peers: [PeerUpdate], from start: Position,
                                 into builder: NetlinkMessageBuilder) -> Position {
        var position = start
        guard let peersNest = builder.beginNest(WireGuardGenl.Device.peers) else { return position }
        defer { builder.end(peersNest) }
        while position.peer < peers.count {
            let peer = peers[position.peer]
            guard let peerNest = builder.beginNest(0) else { return position }
            guard putPeerHeader(peer, continuing: position.allowedIP != nil, into: builder) else {
                builder.cancel(peerNest)
                return position
            }
            if peer.action != .remove && !peer.allowedIPs.isEmpty {
                let next = putAllowedIPs(peer.allowedIPs, from: position.allowedIP ?? 0, into: builder)
                if next < peer.allowedIPs.count {
                    builder.end(peerNest)
                    position.allowedIP = next
                    return position
                }
            }
            builder.end(peerNest)
            position = Position(peer: position.peer + 1)
        }
        return position
    }

    /// The public key and flags; on a peer's first appearance also its key, endpoint and
    /// keepalive. A removed peer needs nothing but its key and WGPEER_F_REMOVE_ME.
    private static func putPeerHeader(_ peer: PeerUpdate, continuing: Bool, into builder: NetlinkMessageBuilder) -> Bool {
        var fits = peer.publicKey.withUnsafeBytes { builder.put(WireGuardGenl.Peer.publicKey, raw: $0) }
        if !continuing, peer.action != .remove, let key = peer.presharedKey {
            fits = fits && key.withUnsafeBytes { builder.put(WireGuardGenl.Peer.presharedKey, raw: $0) }
        }
        let flags = peerFlags(peer, continuing: continuing)
        if flags != 0 {
            fits = fits && builder.put(WireGuardGenl.Peer.flags, u32: flags)
        }
        guard !continuing, peer.action != .remove else { return fits }
        if let endpoint = peer.endpoint {
            fits = fits && builder.put(WireGuardGenl.Peer.endpoint, bytes: SocketAddress.bytes(of: endpoint))
        }
        if let keepalive = peer.persistentKeepalive {
            fits = fits && builder.put(WireGuardGenl.Peer.persistentKeepalive, u16: keepalive)
        }
        return fits
    }

    private static func peerFlags(_ peer: PeerUpdate, continuing: Bool) -> UInt32 {
        switch peer.action {
        case .remove:
            return WireGuardGenl.Peer.removeMe
        case .addOrUpdate, .updateOnly:
            var flags: UInt32 = peer.action == .updateOnly ? WireGuardGenl.Peer.updateOnly : 0
            if peer.replaceAllowedIPs && !continuing { flags |= WireGuardGenl.Peer.replaceAllowedIPs }
            return flags
        }
    }

    /// Writes allowed IPs from `start` while they fit; returns the index of the first one left
    /// out (the count when all fit).
    private static func putAllowedIPs(_ networks: [IPNetwork], from start: Int, into builder: NetlinkMessageBuilder) -> Int {
        guard let listNest = builder.beginNest(WireGuardGenl.Peer.allowedIPs) else { return start }
        defer { builder.end(listNest) }
        var next = start
        while next < networks.count {
            let network = networks[next]
            guard let entry = builder.beginNest(0) else { return next }
            let fits = builder.put(WireGuardGenl.AllowedIP.family, u16: UInt16(network.address.family))
                && builder.put(WireGuardGenl.AllowedIP.ipAddress, bytes: network.address.bytes)
                && builder.put(WireGuardGenl.AllowedIP.cidrMask, u8: UInt8(network.prefixLength))
            guard fits else {
                builder.cancel(entry)
                return next
            }
            builder.end(entry)
            next += 1
        }
        return next
    }
}
