import Foundation

/// A connection to wireguard-go's UAPI unix socket. One request per connection, as `wg` does.
struct UAPISocket {

    let fd: Int32

    /// Connects, or throws interfaceNotFound when nothing listens on the interface's socket.
    init(interface: String, directory: String) throws {
        let path = "\(directory)/\(interface).sock"
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw WireGuardError.system(operation: "socket", errno: errno) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard path.utf8.count < capacity else {
            Glibc.close(fd)
            throw WireGuardError.invalidInterfaceName(interface)
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if rc != 0 {
            let err = errno
            Glibc.close(fd)
            switch err {
            case ENOENT, ECONNREFUSED: throw WireGuardError.interfaceNotFound(interface)
            case EACCES, EPERM: throw WireGuardError.permissionDenied(operation: "connect to \(path)")
            default: throw WireGuardError.system(operation: "connect to \(path)", errno: err)
            }
        }
    }

    func close() { _ = Glibc.close(fd) }

    /// The pid of the process serving the socket (SO_PEERCRED): how we find the wireguard-go
    /// process to stop without keeping pid files that can go stale.
    func peerPID() throws -> pid_t {
        // struct ucred {pid_t pid; uid_t uid; gid_t gid;}: Glibc hides it behind _GNU_SOURCE.
        var cred: (pid: Int32, uid: UInt32, gid: UInt32) = (0, 0, 0)
        var len = socklen_t(MemoryLayout.size(ofValue: cred))
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 else {
            throw WireGuardError.system(operation: "SO_PEERCRED", errno: errno)
        }
        return cred.pid
    }

    /// Sends `request` and reads until the blank line that ends a reply.
    func roundTrip(_ request: String) throws -> String {
        var bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + sent, $0.count - sent) }
            if n < 0 {
                if errno == EINTR { continue }
                throw WireGuardError.system(operation: "write to UAPI socket", errno: errno)
            }
            sent += n
        }
        bytes.removeAll(keepingCapacity: true)
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !Self.endsReply(bytes) {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw WireGuardError.system(operation: "read from UAPI socket", errno: errno)
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            guard bytes.count <= UAPI.maxReplyBytes else {
                throw WireGuardError.malformedReply("UAPI reply exceeds \(UAPI.maxReplyBytes) bytes")
            }
        }
        guard Self.endsReply(bytes) else {
            throw WireGuardError.malformedReply("UAPI reply ended before its blank line")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func endsReply(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[bytes.count - 1] == 0x0A && bytes[bytes.count - 2] == 0x0A
    }
}
