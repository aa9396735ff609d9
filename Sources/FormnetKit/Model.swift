import Foundation
import WireGuard

/// A member of a formnet network as the coordination server records it (innernet's Peer).
/// Named apart from WireGuard.Peer, which is one entry of a WireGuard device.
public struct NetworkPeer: Codable, Sendable, Equatable, Identifiable {
    public var id: Int64
    public var name: String
    public var ip: IPAddress
    public var cidrId: Int64
    public var publicKey: PublicKey
    /// The endpoint others should use: an override the peer set, or what the server observed.
    public var endpoint: Endpoint?
    public var persistentKeepalive: UInt16?
    public var isAdmin: Bool
    public var isDisabled: Bool
    public var isRedeemed: Bool
    /// When an unredeemed invitation stops being accepted.
    public var inviteExpires: Date?
    /// Addresses the peer reported for itself (host candidates for NAT traversal).
    public var candidates: [Endpoint]
    /// How the peer's NAT maps its WireGuard port, as the peer last reported it.
    public var natType: NatType?
    /// The relays the peer is registered with, home first: where others reach it when relayed.
    public var relays: [PublicKey]

    public init(id: Int64, name: String, ip: IPAddress, cidrId: Int64, publicKey: PublicKey,
                endpoint: Endpoint? = nil, persistentKeepalive: UInt16? = nil, isAdmin: Bool = false,
                isDisabled: Bool = false, isRedeemed: Bool = true, inviteExpires: Date? = nil,
                candidates: [Endpoint] = [], natType: NatType? = nil, relays: [PublicKey] = []) {
        self.id = id
        self.name = name
        self.ip = ip
        self.cidrId = cidrId
        self.publicKey = publicKey
        self.endpoint = endpoint
        self.persistentKeepalive = persistentKeepalive
        self.isAdmin = isAdmin
        self.isDisabled = isDisabled
        self.isRedeemed = isRedeemed
        self.inviteExpires = inviteExpires
        self.candidates = candidates
        self.natType = natType
        self.relays = relays
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int64.self, forKey: .id)
        name = try c.decode(String.self, forKey: .name)
        ip = try c.decode(IPAddress.self, forKey: .ip)
        cidrId = try c.decode(Int64.self, forKey: .cidrId)
        publicKey = try c.decode(PublicKey.self, forKey: .publicKey)
        endpoint = try c.decodeIfPresent(Endpoint.self, forKey: .endpoint)
        persistentKeepalive = try c.decodeIfPresent(UInt16.self, forKey: .persistentKeepalive)
        isAdmin = try c.decode(Bool.self, forKey: .isAdmin)
        isDisabled = try c.decode(Bool.self, forKey: .isDisabled)
        isRedeemed = try c.decode(Bool.self, forKey: .isRedeemed)
        inviteExpires = try c.decodeIfPresent(Date.self, forKey: .inviteExpires)
        candidates = try c.decode([Endpoint].self, forKey: .candidates)
        natType = try c.decodeIfPresent(NatType.self, forKey: .natType)
        // Peer caches written before relays existed have none.
        relays = try c.decodeIfPresent([PublicKey].self, forKey: .relays) ?? []
    }
}

/// A relay run by a member of the network, as the state lists it.
public struct NetworkRelay: Codable, Sendable, Equatable {
    public var publicKey: PublicKey
    public var endpoint: Endpoint
    public var location: GeoLocation?
    public var capacity: Int
    public var load: Int
    /// The member that runs it.
    public var peerId: Int64
    public var lastSeen: Date

    public init(publicKey: PublicKey, endpoint: Endpoint, location: GeoLocation? = nil, capacity: Int, load: Int,
                peerId: Int64, lastSeen: Date) {
        self.publicKey = publicKey
        self.endpoint = endpoint
        self.location = location
        self.capacity = capacity
        self.load = load
        self.peerId = peerId
        self.lastSeen = lastSeen
    }
}

/// A named network range; CIDRs form a tree under the network's root CIDR.
public struct Cidr: Codable, Sendable, Equatable, Identifiable {
    public var id: Int64
    public var name: String
    public var cidr: IPNetwork
    /// Nil only for the root CIDR (the whole network).
    public var parent: Int64?

    public init(id: Int64, name: String, cidr: IPNetwork, parent: Int64?) {
        self.id = id
        self.name = name
        self.cidr = cidr
        self.parent = parent
    }
}

/// Two CIDRs whose peers may see each other.
public struct Association: Codable, Sendable, Equatable, Identifiable {
    public var id: Int64
    public var cidrId1: Int64
    public var cidrId2: Int64

    public init(id: Int64, cidrId1: Int64, cidrId2: Int64) {
        self.id = id
        self.cidrId1 = cidrId1
        self.cidrId2 = cidrId2
    }
}
