import Datagram
import Foundation
import RelayWire
import WireGuard

/// `--peer-relay HOST:PORT:PUBKEY`: HOST an address ("[v6]" bracketed) or a name resolved once
/// at start; base64 never contains ':', so the key is what follows the last one.
public enum PeerRelayArgument {
    public static func parse(_ text: String) -> KnownRelay? {
        guard let lastColon = text.lastIndex(of: ":"),
              let key = PublicKey(base64: String(text[text.index(after: lastColon)...])) else { return nil }
        let hostPort = String(text[..<lastColon])
        if let endpoint = Endpoint(hostPort) {
            return KnownRelay(key: key, endpoint: RelayAddress(endpoint), location: .unknown)
        }
        guard let colon = hostPort.lastIndex(of: ":"), let port = UInt16(hostPort[hostPort.index(after: colon)...]),
              let address = resolve(String(hostPort[..<colon])) else { return nil }
        return KnownRelay(key: key, endpoint: RelayAddress(Endpoint(address: address, port: port)), location: .unknown)
    }

    private static func resolve(_ host: String) -> IPAddress? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        guard let sockaddr = first.pointee.ai_addr, let address = SocketAddressConversion.address(from: UnsafeRawPointer(sockaddr)) else { return nil }
        return address.endpoint.address
    }
}
