import CMaxMindDB
import FormnetKit
import Foundation
import WireGuard

/// A MaxMind DB (GeoLite2-City layout, or any database with location/latitude,
/// location/longitude and country/iso_code) opened with libmaxminddb, memory-mapped and
/// read-only, so lookups from several tasks at once are safe.
public final class GeoDatabase: @unchecked Sendable {
    /// Searched in this order when no --geoip-db is given. Relay selection needs coordinates, so
    /// only City databases are listed: Country databases (GeoLite2-Country, dbip-country-lite)
    /// carry no location and would open fine yet answer nothing. The paid GeoIP2-City is more
    /// precise than GeoLite2-City, so it goes first in each directory. Directories:
    /// /var/lib/GeoIP is where Debian's and Ubuntu's geoipupdate write; /usr/share/GeoIP is
    /// geoipupdate's built-in default and where Fedora's and Arch's database packages install;
    /// /usr/local/share/GeoIP is a geoipupdate built from source or FreeBSD's port; the two
    /// var/GeoIP are Homebrew's on Apple silicon and Intel Macs. DB-IP's City Lite has the same
    /// layout and is the free fallback where MaxMind's licence is not wanted.
    public static let defaultPaths = [
        "/var/lib/GeoIP/GeoIP2-City.mmdb",
        "/var/lib/GeoIP/GeoLite2-City.mmdb",
        "/usr/share/GeoIP/GeoIP2-City.mmdb",
        "/usr/share/GeoIP/GeoLite2-City.mmdb",
        "/usr/local/share/GeoIP/GeoIP2-City.mmdb",
        "/usr/local/share/GeoIP/GeoLite2-City.mmdb",
        "/opt/homebrew/var/GeoIP/GeoLite2-City.mmdb",
        "/usr/local/var/GeoIP/GeoLite2-City.mmdb",
        "/var/lib/GeoIP/dbip-city-lite.mmdb",
        "/usr/share/GeoIP/dbip-city-lite.mmdb",
    ]

    public struct OpenError: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "cannot open GeoIP database \(path): \(reason)" }
    }

    // Written by MMDB_open in init, then only read.
    private let handle: UnsafeMutablePointer<MMDB_s>
    public let path: String

    public init(path: String) throws(OpenError) {
        handle = .allocate(capacity: 1)
        let status = MMDB_open(path, UInt32(MMDB_MODE_MMAP), handle)
        guard status == MMDB_SUCCESS else {
            handle.deallocate()
            throw OpenError(path: path, reason: String(cString: MMDB_strerror(status)))
        }
        self.path = path
    }

    /// The database at `explicitPath` (--geoip-db), which must open; without one, the first of
    /// `candidates` that exists and opens, or nil when none does. Geolocation only refines the
    /// choice of relay, so a broken file on a default path is reported through `warn` and
    /// skipped rather than stopping the agent; one the operator named is an error.
    public static func open(explicitPath: String?, searching candidates: [String] = defaultPaths,
                            warn: (OpenError) -> Void = { _ in }) throws(OpenError) -> GeoDatabase? {
        if let explicitPath { return try GeoDatabase(path: explicitPath) }
        for path in candidates where FileManager.default.fileExists(atPath: path) {
            do {
                return try GeoDatabase(path: path)
            } catch {
                warn(error)
            }
        }
        return nil
    }

    deinit {
        MMDB_close(handle)
        handle.deallocate()
    }

    /// The location recorded for `address`, or nil when the database has none.
    public func location(of address: IPAddress) -> GeoLocation? {
        var gaiError: Int32 = 0
        var mmdbError: Int32 = 0
        var result = MMDB_lookup_string(handle, address.description, &gaiError, &mmdbError)
        guard gaiError == 0, mmdbError == MMDB_SUCCESS, result.found_entry else { return nil }
        guard let latitude = double(&result.entry, ["location", "latitude"]),
              let longitude = double(&result.entry, ["location", "longitude"]) else { return nil }
        return GeoLocation(latitude: latitude, longitude: longitude, country: string(&result.entry, ["country", "iso_code"]))
    }

    private func value(_ entry: inout MMDB_entry_s, _ path: [String]) -> MMDB_entry_data_s? {
        var data = MMDB_entry_data_s()
        let cStrings = path.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        let pointers: [UnsafePointer<CChar>?] = cStrings.map { UnsafePointer($0) } + [nil]
        let status = pointers.withUnsafeBufferPointer { MMDB_aget_value(&entry, &data, $0.baseAddress) }
        guard status == MMDB_SUCCESS, data.has_data else { return nil }
        return data
    }

    private func double(_ entry: inout MMDB_entry_s, _ path: [String]) -> Double? {
        guard let data = value(&entry, path), data.type == UInt32(MMDB_DATA_TYPE_DOUBLE) else { return nil }
        return data.double_value
    }

    private func string(_ entry: inout MMDB_entry_s, _ path: [String]) -> String? {
        guard let data = value(&entry, path), data.type == UInt32(MMDB_DATA_TYPE_UTF8_STRING),
              let start = data.utf8_string else { return nil }
        let bytes = UnsafeRawBufferPointer(start: start, count: Int(data.data_size))
        return String(decoding: bytes, as: UTF8.self)
    }
}
