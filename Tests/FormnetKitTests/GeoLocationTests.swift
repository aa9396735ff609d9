import Foundation
import Testing
@testable import FormnetKit

@Suite struct GeoLocationTests {
    let frankfurt = GeoLocation(latitude: 50.1109, longitude: 8.6821, country: "DE")
    let newYork = GeoLocation(latitude: 40.7128, longitude: -74.0060, country: "US")
    let singapore = GeoLocation(latitude: 1.3521, longitude: 103.8198, country: "SG")

    @Test func greatCircleDistances() {
        // Reference values from the haversine formula with the mean Earth radius.
        #expect(abs(frankfurt.distance(to: newYork) - 6200) < 20)
        #expect(abs(frankfurt.distance(to: singapore) - 10260) < 30)
        #expect(frankfurt.distance(to: frankfurt) == 0)
        #expect(abs(frankfurt.distance(to: newYork) - newYork.distance(to: frankfurt)) < 1e-9)
        let antipode = GeoLocation(latitude: 0, longitude: 180)
        #expect(abs(GeoLocation(latitude: 0, longitude: 0).distance(to: antipode) - Double.pi * GeoLocation.earthRadiusKm) < 1e-6)
    }

    @Test func parsesLocationFlags() {
        #expect(GeoLocation("50.11, 8.68") == GeoLocation(latitude: 50.11, longitude: 8.68))
        #expect(GeoLocation("91,0") == nil)
        #expect(GeoLocation("0,181") == nil)
        #expect(GeoLocation("north") == nil)
    }
}
