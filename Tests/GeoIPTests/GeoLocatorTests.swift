import FormnetKit
import Foundation
import Testing
import WireGuard
@testable import GeoIP

@Suite struct GeoLocatorTests {
    let frankfurt = GeoLocation(latitude: 50.1109, longitude: 8.6821, country: "DE")
    let newYork = GeoLocation(latitude: 40.7128, longitude: -74.0060, country: "US")
    let announced = GeoLocation(latitude: 48.8566, longitude: 2.3522)

    private func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "formnet-geo-search-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private func writeDatabase(_ path: String) throws {
        var writer = MMDBWriter()
        writer.insert(IPNetwork("198.18.1.0/24")!, frankfurt)
        writer.insert(IPNetwork("198.18.2.0/24")!, newYork)
        try writer.write(to: path)
    }

    @Test func searchTakesTheFirstDatabaseThatOpens() throws {
        let directory = try temporaryDirectory()
        let corrupt = "\(directory)/corrupt.mmdb"
        let good = "\(directory)/GeoLite2-City.mmdb"
        let later = "\(directory)/later.mmdb"
        try Data("not a database".utf8).write(to: URL(fileURLWithPath: corrupt))
        try writeDatabase(good)
        try writeDatabase(later)

        var warnings: [GeoDatabase.OpenError] = []
        let found = try GeoDatabase.open(explicitPath: nil, searching: ["\(directory)/absent.mmdb", corrupt, good, later]) { warnings.append($0) }
        #expect(found?.path == good)
        #expect(found?.location(of: IPAddress("198.18.1.9")!) == frankfurt)
        // The missing file is not worth a word; the broken one is.
        #expect(warnings.map(\.path) == [corrupt])
        #expect(warnings.first?.description.hasPrefix("cannot open GeoIP database \(corrupt): ") == true)
    }

    @Test func searchFindsNothingWithoutFailing() throws {
        let directory = try temporaryDirectory()
        var warnings: [GeoDatabase.OpenError] = []
        let found = try GeoDatabase.open(explicitPath: nil, searching: ["\(directory)/a.mmdb", "\(directory)/b.mmdb"]) { warnings.append($0) }
        #expect(found == nil)
        #expect(warnings.isEmpty)
    }

    @Test func anExplicitPathMustOpen() throws {
        let directory = try temporaryDirectory()
        let good = "\(directory)/city.mmdb"
        try writeDatabase(good)
        #expect(try GeoDatabase.open(explicitPath: good, searching: ["\(directory)/other.mmdb"])?.path == good)
        let missing = "\(directory)/missing.mmdb"
        let error = #expect(throws: GeoDatabase.OpenError.self) {
            try GeoDatabase.open(explicitPath: missing, searching: [good])
        }
        #expect(error?.path == missing)
        #expect(error?.description.hasPrefix("cannot open GeoIP database \(missing): ") == true)
    }

    @Test func defaultPathsAreCityDatabases() {
        #expect(GeoDatabase.defaultPaths.allSatisfy { $0.hasSuffix("-City.mmdb") || $0.hasSuffix("/dbip-city-lite.mmdb") })
        #expect(GeoDatabase.defaultPaths.contains("/var/lib/GeoIP/GeoLite2-City.mmdb"))
        #expect(GeoDatabase.defaultPaths.contains("/usr/share/GeoIP/GeoLite2-City.mmdb"))
        #expect(Set(GeoDatabase.defaultPaths).count == GeoDatabase.defaultPaths.count)
    }

    @Test func announcedLocationWinsThenTheDatabase() throws {
        let path = try temporaryDirectory() + "/city.mmdb"
        try writeDatabase(path)
        let locator = GeoLocator(database: try GeoDatabase(path: path))
        #expect(locator.location(announced: announced, address: IPAddress("198.18.1.1")!) == announced)
        #expect(locator.location(announced: nil, address: IPAddress("198.18.1.1")!) == frankfurt)
        #expect(locator.location(announced: nil, address: IPAddress("198.18.2.200")!) == newYork)
        #expect(locator.location(announced: nil, address: IPAddress("192.0.2.1")!) == nil)
        #expect(locator.location(announced: nil, address: IPAddress("2001:db8::1")!) == nil)
        #expect(locator.ownLocation(publicAddress: IPAddress("198.18.2.7")!) == newYork)
        #expect(locator.ownLocation(publicAddress: nil) == nil)
    }

    @Test func withoutADatabaseOnlyAnnouncedLocationsAreKnown() {
        let locator = GeoLocator(database: nil)
        #expect(locator.location(announced: announced, address: IPAddress("198.18.1.1")!) == announced)
        #expect(locator.location(announced: nil, address: IPAddress("198.18.1.1")!) == nil)
        #expect(locator.ownLocation(publicAddress: IPAddress("198.18.1.1")!) == nil)
    }
}
