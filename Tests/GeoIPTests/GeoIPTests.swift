import FormnetKit
import Foundation
import Testing
import WireGuard
@testable import GeoIP

@Suite struct GeoIPTests {
    let frankfurt = GeoLocation(latitude: 50.1109, longitude: 8.6821, country: "DE")
    let newYork = GeoLocation(latitude: 40.7128, longitude: -74.0060, country: "US")
    let singapore = GeoLocation(latitude: 1.3521, longitude: 103.8198, country: "SG")

    func database(_ entries: [(String, GeoLocation)]) throws -> (GeoDatabase, String) {
        var writer = MMDBWriter()
        for (network, location) in entries { writer.insert(IPNetwork(network)!, location) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("formnet-geo-\(UUID()).mmdb").path
        try writer.write(to: path)
        return (try GeoDatabase(path: path), path)
    }

    @Test func looksUpGeneratedLocations() throws {
        let (db, path) = try database([("198.18.1.0/24", frankfurt), ("198.18.2.0/24", newYork), ("203.0.113.0/25", singapore)])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(db.location(of: IPAddress("198.18.1.77")!) == frankfurt)
        #expect(db.location(of: IPAddress("198.18.2.1")!) == newYork)
        #expect(db.location(of: IPAddress("203.0.113.126")!) == singapore)
        #expect(db.location(of: IPAddress("203.0.113.128")!) == nil)
        #expect(db.location(of: IPAddress("10.0.0.1")!) == nil)
    }

    @Test func locationWithoutCountry() throws {
        let (db, path) = try database([("198.18.9.0/24", GeoLocation(latitude: -33.87, longitude: 151.21))])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(db.location(of: IPAddress("198.18.9.9")!) == GeoLocation(latitude: -33.87, longitude: 151.21))
    }

    @Test func unreadableDatabasesAreErrorsNotCrashes() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("formnet-geo-bad-\(UUID()).mmdb").path
        try Data("not a maxmind database".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: GeoDatabase.OpenError.self) { try GeoDatabase(path: path) }
        #expect(throws: GeoDatabase.OpenError.self) { try GeoDatabase(path: path + ".absent") }
    }
}
