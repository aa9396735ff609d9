import FormnetKit
import RelayWire
import Foundation
import GeoIP
import Testing
import WireGuard
@testable import FormnetAgent

@Suite struct RelayRegistryTests {
    static func key(_ n: Int) -> PublicKey { PublicKey(bytes: [UInt8](repeating: UInt8(n), count: 32))! }
    static func endpoint(_ n: Int, port: UInt16 = 51821) -> Endpoint { Endpoint(address: .v4(0xC633_6400 | UInt32(n)), port: port) }
    // Whole seconds: the file keeps ISO 8601 dates.
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)
    static let paris = GeoLocation(latitude: 48.8566, longitude: 2.3522)

    static func serverRelay(_ n: Int, location: GeoLocation? = nil, load: Int = 1) -> NetworkRelay {
        NetworkRelay(publicKey: key(n), endpoint: endpoint(n), location: location, capacity: 100, load: load,
                     peerId: Int64(n), lastSeen: t0)
    }

    static func discovered(_ n: Int, location: RelayLocation = .unknown) -> KnownRelay {
        KnownRelay(key: key(n), endpoint: RelayAddress(endpoint(n)), location: location)
    }

    private func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "formnet-registry-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func savesAndLoadsEveryField() throws {
        var registry = RelayRegistry()
        registry.mergeServerList([Self.serverRelay(1, location: Self.paris, load: 7)], network: "office")
        registry.addBootstrap(key: Self.key(1), endpoint: Self.endpoint(1))
        registry.addBootstrap(key: Self.key(2), endpoint: Self.endpoint(2, port: 443))
        registry.mergeDiscovery([Self.discovered(3)], now: Self.t0)
        registry.recordRTT(Self.key(1), milliseconds: 12.5, at: Self.t0)
        registry.recordRTT(Self.key(1), milliseconds: 14, at: Self.t0.addingTimeInterval(25))
        registry.recordFailure(Self.key(2), at: Self.t0.addingTimeInterval(30))
        registry.recordInfo(Self.key(2), capacity: 50, load: 3, location: nil)

        let path = try temporaryDirectory() + "/relays.json"
        try registry.save(to: path)
        var warnings: [String] = []
        let loaded = RelayRegistry.load(from: path) { warnings.append($0) }
        #expect(warnings == [])
        #expect(loaded == registry)
        #expect(loaded[Self.key(1)] == RelayRecord(
            key: Self.key(1), endpoint: Self.endpoint(1), location: Self.paris, sources: [.server(network: "office"), .bootstrap],
            capacity: 100, load: 7, lastSeen: Self.t0.addingTimeInterval(25), rttSamples: [12.5, 14]))
        #expect(loaded[Self.key(2)] == RelayRecord(
            key: Self.key(2), endpoint: Self.endpoint(2, port: 443), sources: [.bootstrap], capacity: 50, load: 3,
            consecutiveFailures: 1, lastFailure: Self.t0.addingTimeInterval(30)))
        #expect(loaded[Self.key(3)] == RelayRecord(key: Self.key(3), endpoint: Self.endpoint(3), sources: [.discovery], lastDiscovered: Self.t0))

        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o644)
        // Stable: saving the loaded registry writes the same bytes, sources sorted.
        let first = try String(contentsOfFile: path, encoding: .utf8)
        try loaded.save(to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == first)
        #expect(first.contains("\"sources\" : [\n        \"bootstrap\",\n        \"server:office\"\n      ]"))
        #expect(first.contains("\"lastSeen\" : \"2023-11-14T22:13:45Z\""))
    }

    @Test func missingFileIsEmptyWithoutWarning() throws {
        var warnings: [String] = []
        let loaded = RelayRegistry.load(from: try temporaryDirectory() + "/relays.json") { warnings.append($0) }
        #expect(loaded.all.isEmpty)
        #expect(warnings.isEmpty)
    }

    @Test func corruptFilesWarnAndLoadEmpty() throws {
        let directory = try temporaryDirectory()
        let cases = [
            ("garbage", "{ not json", "is not valid"),
            ("bad-key", #"{"version":1,"relays":[{"key":"nope","endpoint":"198.51.100.1:1","sources":[],"rttSamples":[],"consecutiveFailures":0}]}"#,
             "relays.Index 0.key: not a base64 WireGuard key: 'nope'"),
            ("bad-source", #"{"version":1,"relays":[{"key":"\#(Self.key(1).base64)","endpoint":"198.51.100.1:1","sources":["server:"],"rttSamples":[],"consecutiveFailures":0}]}"#,
             "not a relay source: 'server:'"),
            ("future", #"{"version":2,"relays":[]}"#, "has version 2, this formnet reads version 1"),
        ]
        for (name, contents, expected) in cases {
            let path = "\(directory)/\(name).json"
            try contents.write(toFile: path, atomically: false, encoding: .utf8)
            var warnings: [String] = []
            let loaded = RelayRegistry.load(from: path) { warnings.append($0) }
            #expect(loaded.all.isEmpty, "\(name)")
            #expect(warnings.count == 1, "\(name)")
            #expect(warnings.first?.contains(path) == true, "\(name)")
            #expect(warnings.first?.contains(expected) == true, "\(name): \(warnings)")
        }
        // A directory where the file should be cannot be read: also a warning, not a crash.
        var warnings: [String] = []
        #expect(RelayRegistry.load(from: directory) { warnings.append($0) }.all.isEmpty)
        #expect(warnings.count == 1)
        #expect(warnings.first?.hasPrefix("cannot read the relay registry \(directory)") == true)
    }

    @Test func duplicateKeysInTheFileKeepTheLast() throws {
        let a = RelayRecord(key: Self.key(1), endpoint: Self.endpoint(1), sources: [.bootstrap])
        let b = RelayRecord(key: Self.key(1), endpoint: Self.endpoint(9), sources: [.discovery])
        #expect(RelayRegistry([a, b]).all == [b])
    }

    @Test func bootstrapAddsOnceAndUpdatesTheEndpoint() {
        var registry = RelayRegistry()
        #expect(registry.addBootstrap(key: Self.key(1), endpoint: Self.endpoint(1)) == .added)
        #expect(registry.addBootstrap(key: Self.key(1), endpoint: Self.endpoint(1)) == .duplicate)
        registry.recordRTT(Self.key(1), milliseconds: 30, at: Self.t0)
        registry.recordFailure(Self.key(1), at: Self.t0)
        #expect(registry.addBootstrap(key: Self.key(1), endpoint: Self.endpoint(7)) == .endpointUpdated(previous: Self.endpoint(1)))
        // The old address's measurements say nothing about the new one.
        #expect(registry[Self.key(1)] == RelayRecord(key: Self.key(1), endpoint: Self.endpoint(7), sources: [.bootstrap], lastSeen: Self.t0))
        #expect(registry.all.count == 1)

        registry.mergeServerList([Self.serverRelay(2)], network: "office")
        #expect(registry.addBootstrap(key: Self.key(2), endpoint: Self.endpoint(2)) == .added)
        #expect(registry[Self.key(2)]?.sources == [.server(network: "office"), .bootstrap])
        #expect(registry.addBootstrap(key: Self.key(2), endpoint: Self.endpoint(2)) == .duplicate)
    }

    @Test func removingABootstrapRelayKeepsItWhileAServerListsIt() {
        var registry = RelayRegistry()
        registry.addBootstrap(key: Self.key(1), endpoint: Self.endpoint(1))
        registry.addBootstrap(key: Self.key(2), endpoint: Self.endpoint(2))
        registry.mergeServerList([Self.serverRelay(2)], network: "office")
        let removed = [1, 2, 2, 3].map { registry.removeBootstrap(key: Self.key($0)) }
        #expect(removed == [true, true, false, false])
        #expect(registry[Self.key(1)] == nil)
        #expect(registry[Self.key(2)]?.sources == [.server(network: "office")])
    }

    @Test func serverMergeReplacesThatNetworksList() {
        var registry = RelayRegistry()
        registry.mergeServerList([Self.serverRelay(1), Self.serverRelay(2), Self.serverRelay(3)], network: "office")
        registry.mergeServerList([Self.serverRelay(3)], network: "lab")
        registry.addBootstrap(key: Self.key(2), endpoint: Self.endpoint(2))
        registry.recordRTT(Self.key(3), milliseconds: 9, at: Self.t0)

        registry.mergeServerList([Self.serverRelay(3, location: Self.paris, load: 42), Self.serverRelay(4)], network: "office")
        #expect(registry.all.map(\.key) == [Self.key(2), Self.key(3), Self.key(4)])
        #expect(registry[Self.key(1)] == nil)
        #expect(registry[Self.key(2)]?.sources == [.bootstrap])
        #expect(registry[Self.key(3)] == RelayRecord(
            key: Self.key(3), endpoint: Self.endpoint(3), location: Self.paris, sources: [.server(network: "office"), .server(network: "lab")],
            capacity: 100, load: 42, lastSeen: Self.t0, rttSamples: [9]))

        registry.mergeServerList([], network: "office")
        #expect(registry.all.map(\.key) == [Self.key(2), Self.key(3)])
        #expect(registry[Self.key(3)]?.sources == [.server(network: "lab")])
    }

    @Test func serverEndpointChangeRestartsMeasurements() {
        var registry = RelayRegistry()
        registry.mergeServerList([Self.serverRelay(1)], network: "office")
        registry.recordRTT(Self.key(1), milliseconds: 9, at: Self.t0)
        var moved = Self.serverRelay(1)
        moved.endpoint = Self.endpoint(8)
        registry.mergeServerList([moved], network: "office")
        #expect(registry[Self.key(1)]?.endpoint == Self.endpoint(8))
        #expect(registry[Self.key(1)]?.rttSamples == [])
    }

    @Test func discoveryHintsDoNotOverrideTheServerOrTheOperator() {
        var registry = RelayRegistry()
        registry.mergeServerList([Self.serverRelay(1)], network: "office")
        registry.addBootstrap(key: Self.key(2), endpoint: Self.endpoint(2))
        let berlin = RelayLocation(latitudeMicrodegrees: 52_520_000, longitudeMicrodegrees: 13_405_000)
        let lying = [
            KnownRelay(key: Self.key(1), endpoint: RelayAddress(Self.endpoint(66)), location: berlin),
            KnownRelay(key: Self.key(2), endpoint: RelayAddress(Self.endpoint(67)), location: .unknown),
            KnownRelay(key: Self.key(3), endpoint: RelayAddress(Self.endpoint(3)), location: berlin),
            KnownRelay(key: Self.key(4), endpoint: RelayAddress(Endpoint("0.0.0.0:51821")!), location: .unknown),
            KnownRelay(key: Self.key(5), endpoint: RelayAddress(Self.endpoint(5, port: 0)), location: .unknown),
        ]
        registry.mergeDiscovery(lying, now: Self.t0)
        #expect(registry.all.map(\.key) == [Self.key(1), Self.key(2), Self.key(3)])
        // Known from the server: keeps its endpoint, gains the source, fills the unknown location.
        #expect(registry[Self.key(1)]?.endpoint == Self.endpoint(1))
        #expect(registry[Self.key(1)]?.location == GeoLocation(latitude: 52.52, longitude: 13.405))
        #expect(registry[Self.key(1)]?.sources == [.server(network: "office"), .discovery])
        #expect(registry[Self.key(2)]?.endpoint == Self.endpoint(2))
        // Known from discovery alone: the latest answer moves it.
        registry.mergeDiscovery([Self.discovered(3), KnownRelay(key: Self.key(3), endpoint: RelayAddress(Self.endpoint(33)), location: .unknown)],
                                now: Self.t0.addingTimeInterval(60))
        #expect(registry[Self.key(3)] == RelayRecord(
            key: Self.key(3), endpoint: Self.endpoint(33), location: GeoLocation(latitude: 52.52, longitude: 13.405),
            sources: [.discovery], lastDiscovered: Self.t0.addingTimeInterval(60)))
    }

    @Test func discoveryIsBoundedAndEvictsDiscoveredRelaysOnly() {
        var registry = RelayRegistry()
        for n in 1...10 { registry.addBootstrap(key: Self.key(n), endpoint: Self.endpoint(n)) }
        registry.mergeServerList((11...20).map { Self.serverRelay($0) }, network: "office")
        registry.mergeDiscovery((21...64).map { Self.discovered($0) }, now: Self.t0)
        #expect(registry.all.count == RelayRegistry.maxRecords)
        // 30 is failing, 40 answered recently: the failing one goes first, then the oldest news.
        for _ in 0..<RelayRecord.failuresBeforeUnhealthy { registry.recordFailure(Self.key(30), at: Self.t0) }
        registry.recordRTT(Self.key(40), milliseconds: 20, at: Self.t0.addingTimeInterval(120))
        registry.mergeDiscovery((21...29).map { Self.discovered($0) }, now: Self.t0.addingTimeInterval(60))
        registry.mergeDiscovery((65...67).map { Self.discovered($0) }, now: Self.t0.addingTimeInterval(90))

        let keys = Set(registry.all.map(\.key))
        #expect(registry.all.count == RelayRegistry.maxRecords)
        #expect(keys.isSuperset(of: (1...29).map(Self.key)))
        #expect(keys.isSuperset(of: [Self.key(40)] + (65...67).map(Self.key)))
        #expect(!keys.contains(Self.key(30)))
        #expect(!keys.contains(Self.key(31)) && !keys.contains(Self.key(32)))
        #expect(keys.contains(Self.key(33)))

        // More bootstrap and server relays than the bound: all kept, discovered ones all gone.
        registry.mergeServerList((100...160).map { Self.serverRelay($0) }, network: "lab")
        #expect(registry.all.count == 81)
        #expect(registry.all.allSatisfy { $0.sources != [.discovery] })
    }

    @Test func measurementsAreBoundedAndDecideHealth() {
        var registry = RelayRegistry()
        registry.addBootstrap(key: Self.key(1), endpoint: Self.endpoint(1))
        for ms in 1...10 { registry.recordRTT(Self.key(1), milliseconds: Double(ms), at: Self.t0) }
        #expect(registry[Self.key(1)]?.rttSamples == [3, 4, 5, 6, 7, 8, 9, 10])
        #expect(registry[Self.key(1)]?.smoothedRTT == 9)
        for _ in 1..<RelayRecord.failuresBeforeUnhealthy { registry.recordFailure(Self.key(1), at: Self.t0) }
        #expect(registry[Self.key(1)]?.isHealthy == true)
        registry.recordFailure(Self.key(1), at: Self.t0.addingTimeInterval(1))
        #expect(registry[Self.key(1)]?.isHealthy == false)
        #expect(registry[Self.key(1)]?.lastFailure == Self.t0.addingTimeInterval(1))
        registry.recordRTT(Self.key(1), milliseconds: 11, at: Self.t0.addingTimeInterval(2))
        #expect(registry[Self.key(1)]?.isHealthy == true)
        #expect(registry[Self.key(1)]?.consecutiveFailures == 0)
        #expect(registry[Self.key(1)]?.lastSeen == Self.t0.addingTimeInterval(2))

        // Unknown keys are ignored, not resurrected.
        registry.recordRTT(Self.key(9), milliseconds: 1, at: Self.t0)
        registry.recordFailure(Self.key(9), at: Self.t0)
        registry.recordInfo(Self.key(9), capacity: 1, load: 1, location: nil)
        #expect(registry.all.count == 1)
    }

    @Test func infoUpdatesCapacityLoadAndLocation() {
        var registry = RelayRegistry()
        registry.addBootstrap(key: Self.key(1), endpoint: Self.endpoint(1))
        registry.recordInfo(Self.key(1), capacity: 100, load: 10, location: Self.paris)
        registry.recordInfo(Self.key(1), capacity: 100, load: 20, location: nil)
        #expect(registry[Self.key(1)] == RelayRecord(key: Self.key(1), endpoint: Self.endpoint(1), location: Self.paris,
                                                   sources: [.bootstrap], capacity: 100, load: 20))
    }

    @Test func aNetworkSeesItsServersBootstrapAndDiscoveredRelays() {
        var registry = RelayRegistry()
        registry.mergeServerList([Self.serverRelay(1)], network: "office")
        registry.mergeServerList([Self.serverRelay(2)], network: "lab")
        registry.addBootstrap(key: Self.key(3), endpoint: Self.endpoint(3))
        registry.mergeDiscovery([Self.discovered(4)], now: Self.t0)
        #expect(registry.relays(for: "office").map(\.key) == [Self.key(1), Self.key(3), Self.key(4)])
        #expect(registry.relays(for: "lab").map(\.key) == [Self.key(2), Self.key(3), Self.key(4)])
        #expect(registry.relays(for: "other").map(\.key) == [Self.key(3), Self.key(4)])
    }

    @Test func recordsBecomeCandidates() {
        var record = RelayRecord(key: Self.key(1), endpoint: Self.endpoint(1), location: Self.paris, sources: [.bootstrap],
                                 capacity: 100, load: 5, rttSamples: [30, 10, 20])
        let locator = GeoLocator(database: nil)
        #expect(record.candidate(locatedBy: locator) == RelaySelection.Candidate(
            key: Self.key(1), location: Self.paris, rttMilliseconds: 20, load: 5, capacity: 100, healthy: true))
        record.location = nil
        record.consecutiveFailures = RelayRecord.failuresBeforeUnhealthy
        #expect(record.candidate(locatedBy: locator) == RelaySelection.Candidate(
            key: Self.key(1), location: nil, rttMilliseconds: 20, load: 5, capacity: 100, healthy: false))
    }

    @Test func wireLocations() {
        #expect(RelayLocation.unknown.geoLocation == nil)
        #expect(RelayLocation(latitudeMicrodegrees: -33_868_800, longitudeMicrodegrees: 151_209_300).geoLocation
            == GeoLocation(latitude: -33.8688, longitude: 151.2093))
        #expect(RelayLocation(latitudeMicrodegrees: 91_000_000, longitudeMicrodegrees: 0).geoLocation == nil)
        #expect(RelayLocation(latitudeMicrodegrees: 0, longitudeMicrodegrees: -181_000_000).geoLocation == nil)
    }

    @Test func sourcesAsText() {
        #expect(RelaySource("server:office") == .server(network: "office"))
        #expect(RelaySource("bootstrap") == .bootstrap)
        #expect(RelaySource("discovery") == .discovery)
        #expect(RelaySource("server:") == nil)
        #expect(RelaySource("friend") == nil)
        #expect(RelaySource.server(network: "office").description == "server:office")
    }
}
