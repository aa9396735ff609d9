import Foundation
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
        UDPRelaySocket.sizeBuffers(fd, bytes: Self.bufferBytes)
        let loopback = Endpoint(address: RelayClientEngine.proxyAddress, port: 0)
        let bound = SocketAddress.bytes(of: loopback).withUnsafeBytes {
            bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count))
        }
        guard bound == 0 else {
            let error = errno
            close(fd)
            throw WireGuardError.system(operation: "bind proxy socket", errno: error)
        }
        descriptor = fd
        var storage = sockaddr_storage()
        var nameLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &nameLength) } }
        port = withUnsafeBytes(of: storage) { SocketAddress.endpoint(from: Array($0.prefix(Int(nameLength))))?.port } ?? 0
        try connect(toWireGuardPort: wireGuardPort)
    }

    func connect(toWireGuardPort port: UInt16) throws {
        let target = Endpoint(address: RelayClientEngine.proxyAddress, port: port)
        let rc = SocketAddress.bytes(of: target).withUnsafeBytes {
            Glibc.connect(descriptor, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count))
        }
        guard rc == 0 else { throw WireGuardError.system(operation: "connect proxy to WireGuard port \(port)", errno: errno) }
    }

    var endpoint: Endpoint { Endpoint(address: RelayClientEngine.proxyAddress, port: port) }
}
