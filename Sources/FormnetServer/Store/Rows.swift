import FormnetKit
import Foundation
import GRDB
import WireGuard

// Rows hold keys, addresses and endpoints as their usual text; a value that no longer parses
// means the file was edited by hand, and that is reported rather than skipped.

func text<T>(_ row: Row, _ column: String, as parse: (String) -> T?) throws -> T {
    let value: String = row[column]
    guard let parsed = parse(value) else {
        throw StoreError(.invalid, "corrupt database: column \(column) holds '\(value)'")
    }
    return parsed
}

extension Cidr {
    init(row: Row) throws {
        self.init(id: row["id"], name: row["name"], cidr: try text(row, "cidr", as: IPNetwork.init), parent: row["parent"])
    }
}

extension FormnetKit.Association {
    init(row: Row) {
        self.init(id: row["id"], cidrId1: row["cidr_id_1"], cidrId2: row["cidr_id_2"])
    }
}

extension NetworkPeer {
    init(row: Row, candidates: [Endpoint], relays: [PublicKey]) throws {
        let endpointText: String? = row["endpoint"]
        let expires: Double? = row["invite_expires"]
        let keepalive: Int64? = row["persistent_keepalive"]
        let natType: String? = row["nat_type"]
        self.init(
            id: row["id"], name: row["name"], ip: try text(row, "ip", as: IPAddress.init),
            cidrId: row["cidr_id"], publicKey: try text(row, "public_key", as: PublicKey.init(base64:)),
            endpoint: try endpointText.map { text in
                guard let endpoint = Endpoint(text) else { throw StoreError(.invalid, "corrupt database: endpoint '\(text)'") }
                return endpoint
            },
            persistentKeepalive: keepalive.flatMap { UInt16(exactly: $0) },
            isAdmin: row["is_admin"], isDisabled: row["is_disabled"], isRedeemed: row["is_redeemed"],
            inviteExpires: expires.map(Date.init(timeIntervalSince1970:)),
            candidates: candidates,
            natType: natType.flatMap(NatType.init(rawValue:)),
            relays: relays)
    }

    /// What an admin would send to recreate or change this peer.
    public var contents: API.PeerContents {
        API.PeerContents(name: name, ip: ip, cidrId: cidrId, publicKey: publicKey, endpoint: endpoint,
                         persistentKeepalive: persistentKeepalive, isAdmin: isAdmin, isDisabled: isDisabled,
                         isRedeemed: isRedeemed, inviteExpires: inviteExpires)
    }
}

extension StoredRelay {
    init(row: Row) throws {
        let endpointText: String? = row["endpoint"]
        let latitude: Double? = row["latitude"]
        let longitude: Double? = row["longitude"]
        let port: Int64 = row["port"]
        guard let port = UInt16(exactly: port) else { throw StoreError(.invalid, "corrupt database: relay port \(port)") }
        let announcement = API.RelayAnnouncement(
            publicKey: try text(row, "public_key", as: PublicKey.init(base64:)), port: port,
            endpoint: try endpointText.map { text in
                guard let endpoint = Endpoint(text) else { throw StoreError(.invalid, "corrupt database: relay endpoint '\(text)'") }
                return endpoint
            },
            location: latitude.flatMap { latitude in
                longitude.map { GeoLocation(latitude: latitude, longitude: $0, country: row["country"]) }
            },
            capacity: row["capacity"], load: row["load"])
        self.init(peerId: row["peer_id"], announcement: announcement,
                  lastSeen: Date(timeIntervalSince1970: row["last_seen"]))
    }
}
