import Foundation

/// A one-connection HTTP server on 127.0.0.1 for client tests: it answers the first request
/// with a canned response (or never, when `response` is nil) and hands back what it received.
final class LoopbackHTTPServer: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32
    private let received = NSLock()
    private var request = ""
    private let done = DispatchSemaphore(value: 0)

    init(response: String?) throws {
        (fd, port) = try Self.listen(backlog: 4)
        guard let response else { return }
        let listener = fd
        Thread.detachNewThread { [self] in
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 65536)
            var text = ""
            while !text.contains("\r\n\r\n") || !bodyComplete(text) {
                let n = read(client, &buffer, buffer.count)
                if n <= 0 { break }
                text += String(decoding: buffer[..<n], as: UTF8.self)
            }
            received.withLock { request = text }
            _ = Array(response.utf8).withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
            close(client)
            done.signal()
        }
    }

    private func bodyComplete(_ text: String) -> Bool {
        guard let range = text.range(of: "\r\n\r\n") else { return false }
        let head = text[..<range.lowerBound].lowercased()
        guard let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
              let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) else { return true }
        return text[range.upperBound...].utf8.count >= length
    }

    /// The request the server read, once it has answered.
    func receivedRequest() -> String {
        _ = done.wait(timeout: .now() + 5)
        return received.withLock { request }
    }

    static func response(status: String, json: String) -> String {
        "HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\nConnection: close\r\n\r\n\(json)"
    }

    deinit { close(fd) }
}

extension LoopbackHTTPServer {
    /// A TCP socket listening on 127.0.0.1 at a port the kernel picks, for the test servers.
    static func listen(backlog: Int32) throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0, Glibc.listen(fd, backlog) == 0 else { throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }
}
