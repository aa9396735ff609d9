import Foundation
import FormnetKit
import Testing
import WireGuard
@testable import FormnetAgent

@Suite struct RelayListTests {
    let fixture = Fixture()
    let now = Date(timeIntervalSince1970: 1_700_000_000)
    static func key(_ n: Int) -> PublicKey { PublicKey(bytes: [UInt8](repeating: UInt8(n), count: 32))! }

    func paths() throws -> Paths {
        let dir = try fixture.temporaryDirectory()
        return Paths(configDir: dir, dataDir: dir)
    }

    @Test func aRunningDaemonsStatusIsShownWithHomeHealthAndDistance() throws {
        let paths = try paths()
        let home = RelayStatus.Relay(key: Self.key(1).base64, endpoint: Endpoint("198.51.100.1:51821")!,
                                     location: GeoLocation(latitude: 50.11, longitude: 8.68, country: "DE"), distanceKm: 12.4,
                                     rttMs: 3.25, load: 2, capacity: 1000, sources: ["server:office"], home: true,
                                     health: .usable, transport: "udp")
        let spare = RelayStatus.Relay(key: Self.key(2).base64, endpoint: Endpoint("198.51.100.2:51821")!,
                                      sources: ["bootstrap"], health: .unreachable, transport: "tcp")
        try RelayStatus(updated: now.addingTimeInterval(-4), relays: [home, spare]).save(to: paths.relayStatus("office"))

        let view = RelayList.view(network: "office", paths: paths, now: now, warn: { Issue.record("warned: \($0)") })
        #expect(view.daemonRunning)
        #expect(view.relays == [home, spare])
        let text = RelayList.render(view, now: now)
        #expect(text.hasPrefix("network: office (daemon status 4 seconds ago)\n"))
        #expect(text.contains("""
              relay: 198.51.100.1:51821 (home)
                public key: \(Self.key(1).base64)
                location: DE 50.11, 8.68 (12 km away)
                rtt: 3.2 ms
                load: 2 of 1000 registrations
                source: server:office
                health: usable (udp)
              relay: 198.51.100.2:51821
            """))
        #expect(text.hasSuffix("    source: bootstrap\n    health: unreachable (tcp)"))
    }

    /// The daemon rewrites its status when a reader would see something else: the relay-selection
    /// lab read an RTT 7 s old (51 ms for a relay slowed to 120 ms) because the order had not changed.
    @Test func theStatusIsRewrittenWhenAnRTTMoves() {
        func relay(_ n: Int, rtt: Double?, home: Bool = false, health: RelayStatus.Health = .usable) -> RelayStatus.Relay {
            RelayStatus.Relay(key: Self.key(n).base64, endpoint: Endpoint("198.51.100.\(n):51821")!, rttMs: rtt, sources: [],
                              home: home, health: health, transport: "udp")
        }
        let written = [relay(1, rtt: 50, home: true), relay(2, rtt: 51)]
        #expect(!RelayStatus.differs(written, from: written))
        #expect(!RelayStatus.differs([relay(1, rtt: 54, home: true), relay(2, rtt: 55.9)], from: written))
        #expect(RelayStatus.differs([relay(1, rtt: 50, home: true), relay(2, rtt: 120)], from: written))
        #expect(RelayStatus.differs([relay(1, rtt: 50, home: true), relay(2, rtt: 45)], from: written))
        #expect(RelayStatus.differs([relay(1, rtt: 50, home: true), relay(2, rtt: nil)], from: written))
        #expect(RelayStatus.differs([relay(2, rtt: 51, home: true), relay(1, rtt: 50)], from: written))
        #expect(RelayStatus.differs([relay(1, rtt: 50, home: true), relay(2, rtt: 51, health: .unreachable)], from: written))
        #expect(RelayStatus.differs([relay(1, rtt: 50, home: true)], from: written))
        // 10 % of a long RTT is more than 5 ms: 300 → 325 ms is not news, 300 → 340 ms is.
        #expect(!RelayStatus.differs([relay(1, rtt: 325, home: true)], from: [relay(1, rtt: 300, home: true)]))
        #expect(RelayStatus.differs([relay(1, rtt: 340, home: true)], from: [relay(1, rtt: 300, home: true)]))
    }

    @Test func withoutARunningDaemonTheRegistryIsShownAndHealthIsUnknown() throws {
        let paths = try paths()
        try RelayStatus(updated: now.addingTimeInterval(-RelayStatus.staleAfter - 1), relays: [])
            .save(to: paths.relayStatus("office"))
        var registry = RelayRegistry()
        registry.addBootstrap(key: Self.key(3), endpoint: Endpoint("203.0.113.3:51821")!)
        registry.recordRTT(Self.key(3), milliseconds: 20, at: now)
        registry.addBootstrap(key: Self.key(4), endpoint: Endpoint("203.0.113.4:51821")!)
        for _ in 0..<RelayRecord.failuresBeforeUnhealthy { registry.recordFailure(Self.key(4), at: now) }
        try registry.save(to: paths.relayRegistry)

        let view = RelayList.view(network: "office", paths: paths, now: now, warn: { Issue.record("warned: \($0)") })
        #expect(!view.daemonRunning)
        #expect(view.relays.map(\.health) == [.unknown, .unhealthy])
        #expect(view.relays.first?.rttMs == 20)
        #expect(view.relays.allSatisfy { !$0.home && $0.sources == ["bootstrap"] })
        #expect(RelayList.render(view, now: now).hasPrefix("network: office (no daemon running"))

        let json = try ScriptJSON.encode([view], single: true)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        #expect(try decoder.decode(RelayList.View.self, from: Data(json.utf8)) == view)
        #expect(try ScriptJSON.encode([view], single: false).hasPrefix("["))
    }

    @Test func anEmptyRegistrySaysHowToGetARelay() throws {
        let view = RelayList.view(network: nil, paths: try paths(), now: now, warn: { Issue.record("warned: \($0)") })
        #expect(view.relays.isEmpty)
        #expect(RelayList.render(view, now: now).contains("no relays known: run 'formnet start-relay --network NET'"))
    }

    @Test func bootstrapRelaysAreAddedReportedAsDuplicatesAndRemovedInTheFile() throws {
        let paths = try paths()
        let endpoint = Endpoint("203.0.113.9:51821")!
        #expect(try BootstrapRelays.add(endpoint: endpoint, key: Self.key(5), paths: paths, warn: { _ in }) == .added)
        #expect(try BootstrapRelays.add(endpoint: endpoint, key: Self.key(5), paths: paths, warn: { _ in }) == .duplicate)
        let moved = Endpoint("203.0.113.10:51821")!
        #expect(try BootstrapRelays.add(endpoint: moved, key: Self.key(5), paths: paths, warn: { _ in })
                == .endpointUpdated(previous: endpoint))
        let saved = RelayRegistry.load(from: paths.relayRegistry, warn: { Issue.record("warned: \($0)") })
        #expect(saved[Self.key(5)]?.endpoint == moved)
        #expect(saved[Self.key(5)]?.sources == [.bootstrap])
        #expect(try BootstrapRelays.delete(key: Self.key(5), paths: paths, warn: { _ in }))
        #expect(try !BootstrapRelays.delete(key: Self.key(5), paths: paths, warn: { _ in }))
        #expect(RelayRegistry.load(from: paths.relayRegistry, warn: { _ in }).all.isEmpty)
    }

    @Test func aCorruptRegistryIsReplacedWithAWarningOnTheNextUpdate() throws {
        let paths = try paths()
        try "{ not json".write(toFile: paths.relayRegistry, atomically: true, encoding: .utf8)
        var warnings: [String] = []
        #expect(try BootstrapRelays.add(endpoint: Endpoint("203.0.113.9:51821")!, key: Self.key(6), paths: paths,
                                        warn: { warnings.append($0) }) == .added)
        #expect(warnings.count == 1)
        #expect(RelayRegistry.load(from: paths.relayRegistry, warn: { Issue.record("warned: \($0)") }).all.count == 1)
    }
}
