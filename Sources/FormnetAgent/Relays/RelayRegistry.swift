import FormnetKit
import Foundation
import GeoIP
import RelayWire
import WireGuard

/// How this host heard of a relay. A relay can have several sources; it is forgotten when it has
/// none left.
public enum RelaySource: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Listed by the coordination server of this network: only its members may use the relay
    /// (a relay started with `--network` admits that network's members alone).
    case server(network: String)
    /// Added by the operator with `formnet add-bootstrap-relay`.
    case bootstrap
    /// Named in a relay's discovery response: a hint, never authoritative.
    case discovery

    /// "server:NET", "bootstrap" or "discovery": network names cannot contain ':'.
    public var description: String {
        switch self {
        case .server(let network): return "server:\(network)"
        case .bootstrap: return "bootstrap"
        case .discovery: return "discovery"
        }
    }

    public init?(_ text: String) {
        switch text {
        case "bootstrap": self = .bootstrap
        case "discovery": self = .discovery
        case _ where text.hasPrefix("server:") && text.count > "server:".count:
            self = .server(network: String(text.dropFirst("server:".count)))
        default: return nil
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let source = RelaySource(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "not a relay source: '\(text)'"))
        }
        self = source
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// What this host knows of one relay.
public struct RelayRecord: Codable, Sendable, Equatable {
    /// Three unanswered pings, as the client state machine of docs/relay-protocol.md counts them.
    public static let failuresBeforeUnhealthy = 3

    public var key: PublicKey
    public var endpoint: Endpoint
    /// The location the relay announces (through the server, discovery or info). A database
    /// lookup is not stored: the database may be replaced, the lookup is cheap.
    public var location: GeoLocation?
    public var sources: Set<RelaySource>
    public var capacity: Int?
    public var load: Int?
    /// When the relay last answered this host.
    public var lastSeen: Date?
    /// Round-trip times in milliseconds, oldest first, at most `RelayRegistry.maxRTTSamples`.
    public var rttSamples: [Double]
    public var consecutiveFailures: Int
    public var lastFailure: Date?
    /// When a discovery response last listed it: how discovered relays are aged for eviction.
    public var lastDiscovered: Date?

    public init(key: PublicKey, endpoint: Endpoint, location: GeoLocation? = nil, sources: Set<RelaySource> = [],
                capacity: Int? = nil, load: Int? = nil, lastSeen: Date? = nil, rttSamples: [Double] = [],
                consecutiveFailures: Int = 0, lastFailure: Date? = nil, lastDiscovered: Date? = nil) {
        self.key = key
        self.endpoint = endpoint
        self.location = location
        self.sources = sources
        self.capacity = capacity
        self.load = load
        self.lastSeen = lastSeen
        self.rttSamples = rttSamples
        self.consecutiveFailures = consecutiveFailures
        self.lastFailure = lastFailure
        self.lastDiscovered = lastDiscovered
    }

    public var isHealthy: Bool { consecutiveFailures < Self.failuresBeforeUnhealthy }

    /// Each recorded value is already a smoothed measurement, so one is enough.
    public var smoothedRTT: Double? { RelaySelection.smoothedRTT(rttSamples, minimumSamples: 1) }

    public func candidate(locatedBy locator: GeoLocator) -> RelaySelection.Candidate {
        RelaySelection.Candidate(key: key, location: locator.location(announced: location, address: endpoint.address),
                                 rttMilliseconds: smoothedRTT, load: load, capacity: capacity, healthy: isHealthy)
    }

    /// Measurements describe the path to an address: at a new one they start over.
    mutating func move(to newEndpoint: Endpoint) {
        guard newEndpoint != endpoint else { return }
        endpoint = newEndpoint
        rttSamples = []
        consecutiveFailures = 0
        lastFailure = nil
    }

    // Sources are written sorted: a Set's order changes from run to run, and the file should
    // change only when its contents do.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encode(endpoint, forKey: .endpoint)
        try container.encodeIfPresent(location, forKey: .location)
        try container.encode(sources.sorted { $0.description < $1.description }, forKey: .sources)
        try container.encodeIfPresent(capacity, forKey: .capacity)
        try container.encodeIfPresent(load, forKey: .load)
        try container.encodeIfPresent(lastSeen, forKey: .lastSeen)
        try container.encode(rttSamples, forKey: .rttSamples)
        try container.encode(consecutiveFailures, forKey: .consecutiveFailures)
        try container.encodeIfPresent(lastFailure, forKey: .lastFailure)
        try container.encodeIfPresent(lastDiscovered, forKey: .lastDiscovered)
    }
}

/// Every relay this host knows, from every network's server, bootstrap and discovery, kept in
/// `Paths.relayRegistry` so that measurements and discovered relays survive a restart.
///
/// Endpoints: the server's list and the operator's bootstrap are authoritative and update a
/// record's endpoint; a discovery answer comes from another relay and only fills in relays known
/// from discovery alone (registration proves a relay's key, so a wrong hint costs a probe).
public struct RelayRegistry: Sendable, Equatable {
    /// Bounds what discovery answers can make this host remember. Only relays known from
    /// discovery alone are evicted: the server's list is replaced on every fetch anyway, and a
    /// bootstrap relay is the operator's explicit choice.
    public static let maxRecords = 64
    public static let maxRTTSamples = 8
    public static let fileVersion = 1

    private var records: [PublicKey: RelayRecord]

    public init(_ records: [RelayRecord] = []) {
        self.records = Dictionary(records.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last })
    }

    /// Every record, by key.
    public var all: [RelayRecord] { records.values.sorted { $0.key.base64 < $1.key.base64 } }

    public subscript(key: PublicKey) -> RelayRecord? { records[key] }

    public enum BootstrapResult: Sendable, Equatable {
        /// New, or known from another source until now.
        case added
        /// Already a bootstrap relay at this endpoint.
        case duplicate
        case endpointUpdated(previous: Endpoint)
    }

    @discardableResult
    public mutating func addBootstrap(key: PublicKey, endpoint: Endpoint) -> BootstrapResult {
        var record = records[key] ?? RelayRecord(key: key, endpoint: endpoint)
        let wasBootstrap = record.sources.contains(.bootstrap)
        let previous = record.endpoint
        record.sources.insert(.bootstrap)
        record.move(to: endpoint)
        records[key] = record
        evictDiscoveredBeyondBound()
        if previous != endpoint { return .endpointUpdated(previous: previous) }
        return wasBootstrap ? .duplicate : .added
    }

    /// Takes the bootstrap source away; the relay stays while another source lists it. Returns
    /// whether it was a bootstrap relay.
    @discardableResult
    public mutating func removeBootstrap(key: PublicKey) -> Bool {
        guard var record = records[key], record.sources.contains(.bootstrap) else { return false }
        record.sources.remove(.bootstrap)
        records[key] = record.sources.isEmpty ? nil : record
        return true
    }

    /// The server's current list for `network` replaces the previous one.
    public mutating func mergeServerList(_ relays: [NetworkRelay], network: String) {
        let source = RelaySource.server(network: network)
        let listed = Set(relays.map(\.publicKey))
        for var record in records.values where record.sources.contains(source) && !listed.contains(record.key) {
            record.sources.remove(source)
            records[record.key] = record.sources.isEmpty ? nil : record
        }
        for relay in relays {
            var record = records[relay.publicKey] ?? RelayRecord(key: relay.publicKey, endpoint: relay.endpoint)
            record.sources.insert(source)
            record.move(to: relay.endpoint)
            record.location = relay.location ?? record.location
            record.capacity = relay.capacity
            record.load = relay.load
            records[relay.publicKey] = record
        }
        evictDiscoveredBeyondBound()
    }

    public mutating func mergeDiscovery(_ relays: [KnownRelay], now: Date) {
        for relay in relays where !relay.endpoint.isUnspecifiedIPv4 && relay.endpoint.port != 0 {
            var record = records[relay.key] ?? RelayRecord(key: relay.key, endpoint: relay.endpoint.endpoint)
            let announced = relay.location.geoLocation
            if record.sources.isSubset(of: [.discovery]) {
                record.move(to: relay.endpoint.endpoint)
                record.location = announced ?? record.location
            } else if record.location == nil {
                record.location = announced
            }
            record.sources.insert(.discovery)
            record.lastDiscovered = now
            records[relay.key] = record
        }
        evictDiscoveredBeyondBound()
    }

    /// A record removed meanwhile (the server stopped listing it) is not brought back.
    public mutating func recordRTT(_ key: PublicKey, milliseconds: Double, at now: Date) {
        guard var record = records[key] else { return }
        record.rttSamples = Array((record.rttSamples + [milliseconds]).suffix(Self.maxRTTSamples))
        record.consecutiveFailures = 0
        record.lastSeen = now
        records[key] = record
    }

    public mutating func recordFailure(_ key: PublicKey, at now: Date) {
        records[key]?.consecutiveFailures += 1
        records[key]?.lastFailure = now
    }

    /// From an info response; `location` nil leaves the known one, since a relay started
    /// without `--location` says "unknown", not "nowhere".
    public mutating func recordInfo(_ key: PublicKey, capacity: Int, load: Int, location: GeoLocation?) {
        guard var record = records[key] else { return }
        record.capacity = capacity
        record.load = load
        record.location = location ?? record.location
        records[key] = record
    }

    /// The relays a member of `network` may choose from: its server's, bootstrap and discovered
    /// ones, but not those another network's server listed (they admit that network's members).
    public func relays(for network: String) -> [RelayRecord] {
        all.filter { record in
            record.sources.contains(.server(network: network)) || record.sources.contains(.bootstrap)
                || record.sources.contains(.discovery)
        }
    }

    /// Failing ones first, then the least recently answered or listed.
    private mutating func evictDiscoveredBeyondBound() {
        let excess = records.count - Self.maxRecords
        guard excess > 0 else { return }
        func freshness(_ record: RelayRecord) -> Date {
            max(record.lastSeen ?? .distantPast, record.lastDiscovered ?? .distantPast)
        }
        let evictable = records.values.filter { $0.sources == [.discovery] }.sorted { a, b in
            if a.isHealthy != b.isHealthy { return !a.isHealthy }
            if freshness(a) != freshness(b) { return freshness(a) < freshness(b) }
            return a.key.base64 < b.key.base64
        }
        for record in evictable.prefix(excess) { records[record.key] = nil }
    }

    private struct File: Codable {
        var version: Int
        var relays: [RelayRecord]
    }

    /// A missing file is an empty registry. An unreadable or invalid one is reported through
    /// `warn` and also treated as empty: the registry is a cache of what the server, the
    /// operator and discovery say, so losing it costs some probes, while refusing to start
    /// would cost connectivity. The next save replaces the bad file.
    public static func load(from path: String, warn: (String) -> Void) -> RelayRegistry {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch CocoaError.fileReadNoSuchFile {
            return RelayRegistry()
        } catch {
            warn("cannot read the relay registry \(path): \(error.localizedDescription); starting with no known relays")
            return RelayRegistry()
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            let file = try decoder.decode(File.self, from: data)
            guard file.version == fileVersion else {
                warn("the relay registry \(path) has version \(file.version), this formnet reads version \(fileVersion); starting with no known relays")
                return RelayRegistry()
            }
            return RelayRegistry(file.relays)
        } catch {
            warn("the relay registry \(path) is not valid (\(describe(error))); starting with no known relays, the file is replaced on the next save")
            return RelayRegistry()
        }
    }

    public func save(to path: String) throws {
        try AtomicFile.write(encoded(), to: path, mode: 0o644)
    }

    /// Pretty and with sorted keys, so that the file is stable and an operator can read it.
    func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(File(version: Self.fileVersion, relays: all))
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    private static func describe(_ error: any Error) -> String {
        let context: DecodingError.Context
        switch error as? DecodingError {
        case .dataCorrupted(let c)?, .keyNotFound(_, let c)?, .typeMismatch(_, let c)?, .valueNotFound(_, let c)?:
            context = c
        default:
            return "\(error)"
        }
        let path = context.codingPath.map(\.stringValue).joined(separator: ".")
        return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
    }
}

extension RelayLocation {
    /// Nil for the protocol's "unknown" and for coordinates off the globe, which a relay's
    /// answer may carry since nothing authenticates it.
    public var geoLocation: GeoLocation? {
        let latitude = Double(latitudeMicrodegrees) / 1_000_000
        let longitude = Double(longitudeMicrodegrees) / 1_000_000
        guard isKnown, (-90...90).contains(latitude), (-180...180).contains(longitude) else { return nil }
        return GeoLocation(latitude: latitude, longitude: longitude)
    }
}
