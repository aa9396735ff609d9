import Datagram
import Foundation
import RelayWire
import WireGuard

/// The loopback UDP socket that stands in for one relayed peer: WireGuard's endpoint for the
/// peer is this socket's address, and the socket is connected to WireGuard's port, so what
/// WireGuard sends to the peer arrives here and what the relay delivers from the peer is sent to
/// WireGuard from here (WireGuard's roaming then keeps the endpoint on it).
struct LoopbackProxySocket {
    let descriptor: Int32
    let port: UInt16

    static let bufferBytes: Int32 = 4 << 20

    init(wireGuardPort: UInt16) throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw WireGuardError.system(operation: "proxy socket", errno: errno) }
        SocketCalls.setBufferSizes(fd, bytes: Self.bufferBytes)
        let loopback = DatagramAddress(Endpoint(address: RelayClientEngine.proxyAddress, port: 0))
        guard SocketCalls.bind(fd, family: AF_INET, to: loopback) else {
            let error = errno
            close(fd)
            throw WireGuardError.system(operation: "bind proxy socket", errno: error)
        }
        descriptor = fd
        port = SocketCalls.localAddress(of: fd)?.port ?? 0
        try Self.connect(fd, toWireGuardPort: wireGuardPort)
    }

    /// Points the proxy socket `descriptor` at WireGuard's port.
    static func connect(_ descriptor: Int32, toWireGuardPort port: UInt16) throws {
        let target = DatagramAddress(Endpoint(address: RelayClientEngine.proxyAddress, port: port))
        guard SocketCalls.connect(descriptor, family: AF_INET, to: target) == 0 else {
            throw WireGuardError.system(operation: "connect proxy to WireGuard port \(port)", errno: errno)
        }
    }

    var endpoint: Endpoint { Endpoint(address: RelayClientEngine.proxyAddress, port: port) }
}
