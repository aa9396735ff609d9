/// A change to a device, with the semantics both the kernel (WG_CMD_SET_DEVICE) and the UAPI
/// `set=1` operation share: fields left nil are untouched.
public struct DeviceUpdate: Sendable, Equatable {
    public var privateKey: PrivateKey?
    public var listenPort: UInt16?
    public var fwmark: UInt32?
    /// Remove every existing peer before applying `peers`.
    public var replacePeers: Bool
    public var peers: [PeerUpdate]

    public init(privateKey: PrivateKey? = nil, listenPort: UInt16? = nil, fwmark: UInt32? = nil,
                replacePeers: Bool = false, peers: [PeerUpdate] = []) {
        self.privateKey = privateKey
        self.listenPort = listenPort
        self.fwmark = fwmark
        self.replacePeers = replacePeers
        self.peers = peers
    }

    /// The update that makes a device equal to `device` (keys, port, fwmark, every peer).
    public static func replacing(with device: Device) -> DeviceUpdate {
        DeviceUpdate(
            privateKey: device.privateKey, listenPort: device.listenPort, fwmark: device.fwmark,
            replacePeers: true,
            peers: device.peers.map { .add($0) })
    }
}

/// A change to one peer, identified by its public key.
public struct PeerUpdate: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// Create the peer if absent, update it if present.
        case addOrUpdate
        /// Update only if the peer exists (WGPEER_F_UPDATE_ONLY / `update_only=true`).
        case updateOnly
        case remove
    }

    public var publicKey: PublicKey
    public var action: Action
    /// Set a preshared key; an all-zero key clears it.
    public var presharedKey: PresharedKey?
    public var endpoint: Endpoint?
    public var persistentKeepalive: UInt16?
    /// Remove the peer's allowed IPs before adding `allowedIPs`.
    public var replaceAllowedIPs: Bool
    public var allowedIPs: [IPNetwork]

    public init(publicKey: PublicKey, action: Action = .addOrUpdate, presharedKey: PresharedKey? = nil,
                endpoint: Endpoint? = nil, persistentKeepalive: UInt16? = nil,
                replaceAllowedIPs: Bool = false, allowedIPs: [IPNetwork] = []) {
        self.publicKey = publicKey
        self.action = action
        self.presharedKey = presharedKey
        self.endpoint = endpoint
        self.persistentKeepalive = persistentKeepalive
        self.replaceAllowedIPs = replaceAllowedIPs
        self.allowedIPs = allowedIPs
    }

    public static func add(_ peer: Peer) -> PeerUpdate {
        PeerUpdate(publicKey: peer.publicKey, presharedKey: peer.presharedKey, endpoint: peer.endpoint,
                   persistentKeepalive: peer.persistentKeepalive, replaceAllowedIPs: true,
                   allowedIPs: peer.allowedIPs)
    }

    public static func remove(_ key: PublicKey) -> PeerUpdate {
        PeerUpdate(publicKey: key, action: .remove)
    }

    public static func setAllowedIPs(_ key: PublicKey, _ ips: [IPNetwork]) -> PeerUpdate {
        PeerUpdate(publicKey: key, action: .updateOnly, replaceAllowedIPs: true, allowedIPs: ips)
    }
}
