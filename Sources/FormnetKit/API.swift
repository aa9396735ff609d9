import Foundation
import WireGuard

/// The coordination server's HTTP API: JSON over HTTP, served only on the server's tunnel
/// address. The caller is the peer whose tunnel IP is the TCP source address (WireGuard binds
/// that address to the peer's key), and every request carries the server's public key in
/// `serverKeyHeader`, so a request that reached some other server is refused.
public enum API {
    public static let serverKeyHeader = "X-Formnet-Server-Key"
    public static let version = "v1"
    /// The most host candidates a peer may report; more are refused rather than truncated.
    public static let maxCandidates = 10
    /// GET state with `?wait=SECONDS` and `If-None-Match: ETAG` is held until the caller's view
    /// changes (answered 200 with a new `ETag`) or the wait ends (304): members learn of a new
    /// peer or endpoint at once instead of at their next fetch.
    public static let stateWaitQuery = "wait"
    public static let maxStateWait = 60
    /// After answering a redeem, the server keeps the invitation's key on its WireGuard device
    /// this long, so the answer still reaches the member over the tunnel; the member waits as
    /// long before it brings its interface up with the new key (innernet's REDEEM_TRANSITION_WAIT).
    public static let redeemTransitionWait: Duration = .seconds(5)

    public enum Path {
        public static let state = "/v1/user/state"
        public static let redeem = "/v1/user/redeem"
        public static let endpoint = "/v1/user/endpoint"
        public static let candidates = "/v1/user/candidates"
        /// POST: the caller announces the relay it runs; DELETE: it stopped running it.
        public static let relay = "/v1/user/relay"
        public static let capabilities = "/v1/capabilities"
        public static let adminPeers = "/v1/admin/peers"
        public static let adminCidrs = "/v1/admin/cidrs"
        public static let adminAssociations = "/v1/admin/associations"
        public static func adminPeer(_ id: Int64) -> String { "\(adminPeers)/\(id)" }
        public static func adminCidr(_ id: Int64) -> String { "\(adminCidrs)/\(id)" }
        public static func adminAssociation(_ id: Int64) -> String { "\(adminAssociations)/\(id)" }
    }

    /// A relay announcement is dropped from the state when it was not renewed for this long;
    /// relays renew every `relayAnnounceInterval`.
    public static let relayExpiry: Duration = .seconds(180)
    public static let relayAnnounceInterval: Duration = .seconds(60)
    /// The most relays a member reports as its own (home first).
    public static let maxReportedRelays = 4

    /// GET state: what the caller may see.
    public struct State: Codable, Sendable, Equatable {
        public var peers: [NetworkPeer]
        public var cidrs: [Cidr]
        /// Relays that members of the network run (announced, not expired).
        public var relays: [NetworkRelay]
        public init(peers: [NetworkPeer], cidrs: [Cidr], relays: [NetworkRelay] = []) {
            self.peers = peers
            self.cidrs = cidrs
            self.relays = relays
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            peers = try container.decode([NetworkPeer].self, forKey: .peers)
            cidrs = try container.decode([Cidr].self, forKey: .cidrs)
            // Peer caches written before relays existed have none.
            relays = try container.decodeIfPresent([NetworkRelay].self, forKey: .relays) ?? []
        }
    }

    /// POST relay: the relay the caller runs (`formnet start-relay --network NET`). Without an
    /// endpoint the server uses the caller's observed public address with `port`.
    public struct RelayAnnouncement: Codable, Sendable, Equatable {
        public var publicKey: PublicKey
        public var port: UInt16
        public var endpoint: Endpoint?
        public var location: GeoLocation?
        public var capacity: Int
        public var load: Int
        public init(publicKey: PublicKey, port: UInt16, endpoint: Endpoint? = nil, location: GeoLocation? = nil,
                    capacity: Int, load: Int) {
            self.publicKey = publicKey
            self.port = port
            self.endpoint = endpoint
            self.location = location
            self.capacity = capacity
            self.load = load
        }
    }

    /// POST redeem: the invitation's temporary key is replaced by one only the member holds.
    public struct RedeemRequest: Codable, Sendable, Equatable {
        public var publicKey: PublicKey
        public init(publicKey: PublicKey) { self.publicKey = publicKey }
    }

    /// PUT endpoint: nil clears an override and returns to the observed endpoint.
    public struct EndpointOverride: Codable, Sendable, Equatable {
        public var endpoint: Endpoint?
        public init(endpoint: Endpoint?) { self.endpoint = endpoint }
    }

    /// PUT candidates: the caller's host candidates, at most `maxCandidates`, how its NAT
    /// maps (nil: not measured; the stored type is then left as it was), and the relays it is
    /// registered with, home first, at most `maxReportedRelays` (nil: left as they were).
    public struct Candidates: Codable, Sendable, Equatable {
        public var candidates: [Endpoint]
        public var natType: NatType?
        public var relays: [PublicKey]?
        public init(candidates: [Endpoint], natType: NatType? = nil, relays: [PublicKey]? = nil) {
            self.candidates = candidates
            self.natType = natType
            self.relays = relays
        }
    }

    public struct Capabilities: Codable, Sendable, Equatable {
        public var version: String
        public var features: [String]
        /// STUN observers the server runs on its public address, for NAT type detection.
        public var stun: [Endpoint]?
        public init(version: String, features: [String], stun: [Endpoint]? = nil) {
            self.version = version
            self.features = features
            self.stun = stun
        }
    }

    /// What an admin sends to create or change a peer (no id: the server assigns it).
    public struct PeerContents: Codable, Sendable, Equatable {
        public var name: String
        public var ip: IPAddress
        public var cidrId: Int64
        public var publicKey: PublicKey
        public var endpoint: Endpoint?
        public var persistentKeepalive: UInt16?
        public var isAdmin: Bool
        public var isDisabled: Bool
        public var isRedeemed: Bool
        public var inviteExpires: Date?

        public init(name: String, ip: IPAddress, cidrId: Int64, publicKey: PublicKey, endpoint: Endpoint? = nil,
                    persistentKeepalive: UInt16? = nil, isAdmin: Bool = false, isDisabled: Bool = false,
                    isRedeemed: Bool = false, inviteExpires: Date? = nil) {
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
        }
    }

    public struct CidrContents: Codable, Sendable, Equatable {
        public var name: String
        public var cidr: IPNetwork
        public var parent: Int64?
        public init(name: String, cidr: IPNetwork, parent: Int64?) {
            self.name = name
            self.cidr = cidr
            self.parent = parent
        }
    }

    public struct AssociationContents: Codable, Sendable, Equatable {
        public var cidrId1: Int64
        public var cidrId2: Int64
        public init(cidrId1: Int64, cidrId2: Int64) {
            self.cidrId1 = cidrId1
            self.cidrId2 = cidrId2
        }
    }

    /// The body of every 4xx/5xx answer.
    public struct ErrorBody: Codable, Sendable, Equatable {
        public var error: String
        public init(error: String) { self.error = error }
    }

    /// JSON with ISO 8601 dates, the same on both sides.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
