import FormnetKit
import WireGuard

/// Where a relay, or this host, is. The rule lives here rather than with relay selection because it
/// is about places and addresses only (nothing of relays), and so that its tests can build the
/// databases they need with GeoIPTests' MaxMind DB writer.
///
/// An announced location wins over a lookup: an operator who gave `--location` knows where the
/// machine is, while a database places an address where its block is registered, often a
/// provider's head office. Without either, the location is unknown and selection ranks such
/// relays after located ones until their RTT is measured.
public struct GeoLocator: Sendable {
    public let database: GeoDatabase?

    public init(database: GeoDatabase?) {
        self.database = database
    }

    public func location(announced: GeoLocation?, address: IPAddress) -> GeoLocation? {
        announced ?? database?.location(of: address)
    }

    /// `publicAddress` is this host's address as the server or a relay observed it; the caller
    /// has it, not this module.
    public func ownLocation(publicAddress: IPAddress?) -> GeoLocation? {
        publicAddress.flatMap { database?.location(of: $0) }
    }
}
