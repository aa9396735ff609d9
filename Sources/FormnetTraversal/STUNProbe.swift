import Foundation
import WireGuard

/// Asks STUN observers how they see one local UDP port: the raw material of NAT type inference.
public enum STUNProbe {
    /// One Binding request per observer from a single socket, retried once; observers that do
    /// not answer within `timeout` seconds are left out of the result.
    public static func observe(observers: [Endpoint], from socket: DatagramSocket, timeout: Double = 1.0) throws -> [MappingObservation] {
        var pending: [[UInt8]: Endpoint] = [:]
        for observer in observers {
            let transaction = (0..<12).map { _ in UInt8.random(in: 0...255) }
            pending[transaction] = observer
        }
        var results: [MappingObservation] = []
        for round in 0..<2 where !pending.isEmpty {
            for (transaction, observer) in pending {
                try socket.send(STUNMessage.request(transaction: transaction), to: observer)
            }
            let deadline = Date().addingTimeInterval(timeout / 2 * Double(round + 1))
            while !pending.isEmpty, case let left = deadline.timeIntervalSinceNow, left > 0 {
                guard let (datagram, sender) = try socket.receive(timeout: left) else { break }
                for (transaction, observer) in pending where observer == sender {
                    if let seen = STUNMessage.parseResponse(datagram, transaction: transaction) {
                        results.append(MappingObservation(observer: observer.description, destination: observer, seen: seen))
                        pending[transaction] = nil
                    }
                }
            }
        }
        return results.sorted { $0.observer < $1.observer }
    }
}

/// Answers STUN Binding requests on one UDP port until the socket is closed; the coordination
/// server runs two of them so members can tell endpoint-independent NATs from symmetric ones.
public final class STUNResponder: @unchecked Sendable {
    private let socket: DatagramSocket
    private let stopped = NSLock()
    private var isStopped = false

    public init(port: UInt16, family: Int32) throws {
        socket = try DatagramSocket(family: family, port: port)
    }

    public var port: UInt16 { socket.localPort }

    /// Serves on a thread of its own; malformed datagrams are ignored.
    public func start() {
        let thread = Thread { [self] in
            while !stopped.withLock({ isStopped }) {
                guard let (datagram, sender) = try? socket.receive(timeout: 0.5) else { continue }
                guard let transaction = STUNMessage.parseRequest(datagram) else { continue }
                try? socket.send(STUNMessage.response(transaction: transaction, observed: sender), to: sender)
            }
        }
        thread.name = "stun-\(port)"
        thread.start()
    }

    public func stop() {
        stopped.withLock { isStopped = true }
    }
}
