import Foundation
import FormnetKit
import WireGuard

/// What a member's daemon last knew of the relays it may use — the ranking, the home relay and
/// each registration's health — written to the data dir so that `formnet list-relays`, another
/// process, can report it.
public struct RelayStatus: Codable, Sendable, Equatable {
    public enum Health: String, Codable, Sendable {
        /// Registered and answering pings.
        case usable
        /// A registration is under way (the first, or after a relay restart).
        case registering
        /// Registered with, but it stopped answering (or never answered).
        case unreachable
        /// Known and healthy when last measured, but not among the relays this member keeps
        /// registrations with.
        case standby
        /// Left `RelayRecord.failuresBeforeUnhealthy` measurements in a row unanswered.
        case unhealthy
        /// No running daemon has measured it.
        case unknown
    }

    /// Why this member holds a registration with a relay.
    public enum Registration: String, Codable, Sendable {
        /// One of the few best relays the member keeps and reports to the server.
        case standing
        /// Made for a relayed peer registered there, while none of the peer's relays is standing
        /// here; closed a minute after no route needs it.
        case onDemand = "on-demand"
    }

    public struct Relay: Codable, Sendable, Equatable {
        /// Base64.
        public var key: String
        public var endpoint: Endpoint
        /// Announced, else looked up in the GeoIP database.
        public var location: GeoLocation?
        /// Great-circle distance from this host, when both locations are known.
        public var distanceKm: Double?
        /// Smoothed round-trip time.
        public var rttMs: Double?
        public var load: Int?
        public var capacity: Int?
        /// `RelaySource` descriptions: "server:NET", "bootstrap", "discovery".
        public var sources: [String]
        public var home: Bool
        public var health: Health
        /// "udp" or "tcp" while registered.
        public var transport: String?
        /// Nil when the member holds no registration with it.
        public var registration: Registration?
        /// Of an on-demand registration: the base64 keys of the relayed peers whose routes keep it
        /// open (empty while it lingers unused).
        public var neededBy: [String]?

        public init(key: String, endpoint: Endpoint, location: GeoLocation? = nil, distanceKm: Double? = nil,
                    rttMs: Double? = nil, load: Int? = nil, capacity: Int? = nil, sources: [String],
                    home: Bool = false, health: Health, transport: String? = nil, registration: Registration? = nil,
                    neededBy: [String]? = nil) {
            self.key = key
            self.endpoint = endpoint
            self.location = location
            self.distanceKm = distanceKm
            self.rttMs = rttMs
            self.load = load
            self.capacity = capacity
            self.sources = sources
            self.home = home
            self.health = health
            self.transport = transport
            self.registration = registration
            self.neededBy = neededBy
        }
    }

    /// When the daemon wrote it: a status much older than `staleAfter` means no daemon runs.
    public var updated: Date
    /// Home first, then in the order the daemon would fall back.
    public var relays: [Relay]

    /// The daemon rewrites the file at least this often while it runs.
    public static let rewriteInterval: TimeInterval = 10
    public static let staleAfter: TimeInterval = 3 * rewriteInterval

    /// Whether `relays` says something other than `written` that a reader acts on: another
    /// order, home, health or transport, or an RTT moved by more than 5 ms and 10 % (`list-relays`
    /// would otherwise show RTTs up to `rewriteInterval` old, while the ranking already follows
    /// the new ones).
    static func differs(_ relays: [Relay], from written: [Relay]) -> Bool {
        guard relays.count == written.count else { return true }
        return zip(relays, written).contains { new, old in
            guard new.key == old.key, new.home == old.home, new.health == old.health, new.transport == old.transport,
                  new.registration == old.registration, new.neededBy == old.neededBy else { return true }
            switch (new.rttMs, old.rttMs) {
            case (nil, nil): return false
            case (let now?, let before?): return abs(now - before) > max(5, 0.1 * before)
            default: return true
            }
        }
    }

    public init(updated: Date, relays: [Relay]) {
        self.updated = updated
        self.relays = relays
    }

    public static func load(from path: String) -> RelayStatus? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(RelayStatus.self, from: data)
    }

    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try AtomicFile.write(String(decoding: try encoder.encode(self), as: UTF8.self), to: path, mode: 0o644)
    }
}
