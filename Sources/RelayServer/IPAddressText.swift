import RelayWire
import WireGuard

enum IPAddressText {
    /// "127.0.0.1" or "::1" with a port as a RelayAddress; nil if not an address.
    static func relayAddress(_ host: String, port: UInt16) -> RelayAddress? {
        IPAddress(host).map { RelayAddress(Endpoint(address: $0, port: port)) }
    }
}
