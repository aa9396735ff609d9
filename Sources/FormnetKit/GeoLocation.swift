import Foundation

/// A point on the globe, with the country when the source knows it.
public struct GeoLocation: Sendable, Equatable, Codable {
    public var latitude: Double
    public var longitude: Double
    /// ISO 3166-1 alpha-2, e.g. "DE".
    public var country: String?

    public init(latitude: Double, longitude: Double, country: String? = nil) {
        self.latitude = latitude
        self.longitude = longitude
        self.country = country
    }

    /// "LAT,LON" as given to --location.
    public init?(_ text: String) {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let lat = Double(parts[0]), let lon = Double(parts[1]),
              (-90...90).contains(lat), (-180...180).contains(lon) else { return nil }
        self.init(latitude: lat, longitude: lon)
    }

    static let earthRadiusKm = 6371.0088

    /// Great-circle distance in kilometres (haversine): what "nearest relay" means before any
    /// round-trip time has been measured.
    public func distance(to other: GeoLocation) -> Double {
        let rad = Double.pi / 180
        let dLat = (other.latitude - latitude) * rad
        let dLon = (other.longitude - longitude) * rad
        let a = pow(sin(dLat / 2), 2) + cos(latitude * rad) * cos(other.latitude * rad) * pow(sin(dLon / 2), 2)
        return 2 * Self.earthRadiusKm * asin(min(1, sqrt(a)))
    }
}
