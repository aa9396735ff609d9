import Foundation

/// A WireGuard interface as the kernel or wireguard-go reports it.
public struct Device: Sendable, Equatable {
    public var name: String
    public var privateKey: PrivateKey?
    public var publicKey: PublicKey?
    public var listenPort: UInt16
    public var fwmark: UInt32
    public var peers: [Peer]

    public init(name: String, privateKey: PrivateKey? = nil, publicKey: PublicKey? = nil,
                listenPort: UInt16 = 0, fwmark: UInt32 = 0, peers: [Peer] = []) {
        self.name = name
        self.privateKey = privateKey
        self.publicKey = publicKey
        self.listenPort = listenPort
        self.fwmark = fwmark
        self.peers = peers
    }

    public func peer(_ key: PublicKey) -> Peer? { peers.first { $0.publicKey == key } }

    /// The peers by public key, for a pass that looks each of many up (`peer` is a linear search).
    public var peersByKey: [PublicKey: Peer] {
        Dictionary(peers.map { ($0.publicKey, $0) }, uniquingKeysWith: { first, _ in first })
    }
}

/// One peer of a device, with its live counters.
public struct Peer: Sendable, Equatable {
    public var publicKey: PublicKey
    public var presharedKey: PresharedKey?
    public var endpoint: Endpoint?
    public var allowedIPs: [IPNetwork]
    /// Seconds; 0 is off.
    public var persistentKeepalive: UInt16
    /// Nil when no handshake has completed.
    public var lastHandshake: Date?
    public var rxBytes: UInt64
    public var txBytes: UInt64

    public init(publicKey: PublicKey, presharedKey: PresharedKey? = nil, endpoint: Endpoint? = nil,
                allowedIPs: [IPNetwork] = [], persistentKeepalive: UInt16 = 0,
                lastHandshake: Date? = nil, rxBytes: UInt64 = 0, txBytes: UInt64 = 0) {
        self.publicKey = publicKey
        self.presharedKey = presharedKey
        self.endpoint = endpoint
        self.allowedIPs = allowedIPs
        self.persistentKeepalive = persistentKeepalive
        self.lastHandshake = lastHandshake
        self.rxBytes = rxBytes
        self.txBytes = txBytes
    }
}
