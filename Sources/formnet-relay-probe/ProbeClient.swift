import Foundation
import RelayWire
import RelayClient
import WireGuard

/// A test client: one key, one socket, the library's client protocol.
final class ProbeClient: @unchecked Sendable {
    // Used by one thread at a time, like its socket.
    let socket: ProbeSocket
    var relay: RelayClientProtocol
    let key: PrivateKey

    var publicKey: PublicKey { relay.clientPublicKey }

    struct Failure: Error, CustomStringConvertible { let description: String }

    init(relay address: RelayAddress, relayKey: PublicKey, tcp: Bool, key: PrivateKey = .generate(), source: RelayAddress? = nil) throws {
        socket = try ProbeSocket(relay: address, tcp: tcp, source: source)
        self.key = key
        relay = RelayClientProtocol(clientKey: key, relayKey: relayKey)
    }

    /// Registers and waits for the boxed answer, sending a new register frame every `retry`
    /// seconds as formnet's agent does (a frame may be lost, or wait behind a flood); the last
    /// frame sent is returned so a check can replay it.
    @discardableResult
    func register(timeout: Double = 5, retry: Double = 1) throws -> [UInt8] {
        let deadline = Date().addingTimeInterval(timeout)
        var frame: [UInt8] = []
        while deadline.timeIntervalSinceNow > 0 {
            frame = relay.makeRegister(nowMillis: RelayClock.wallMillis())
            socket.send(frame)
            let attemptEnds = min(deadline, Date().addingTimeInterval(retry))
            while attemptEnds.timeIntervalSinceNow > 0, let answer = socket.receive(timeout: attemptEnds.timeIntervalSinceNow) {
                let event = answer.withUnsafeBytes { relay.receive($0, nowMillis: RelayClock.wallMillis()) }
                if case .registered = event { return frame }
                if case .cookie = event {
                    frame = relay.makeRegister(nowMillis: RelayClock.wallMillis())
                    socket.send(frame)
                }
                if case .error(let error) = event { throw Failure(description: "relay refused registration: \(error.code)") }
            }
        }
        throw Failure(description: "no registered answer within \(timeout) s")
    }

    /// Asks for a channel to `peer`: the granted port (0: none), or nil if no grant came within a second.
    func channelGrant(to peer: PublicKey) -> UInt16? {
        socket.send(relay.makeChannelRequest(to: peer, nowMillis: RelayClock.wallMillis()))
        let deadline = Date().addingTimeInterval(1)
        while deadline.timeIntervalSinceNow > 0, let frame = socket.receive(timeout: deadline.timeIntervalSinceNow) {
            if let grant = frame.withUnsafeBytes({ ChannelGrantFrame.decode($0) }), grant.peer == peer { return grant.port }
        }
        return nil
    }

    /// The port of a channel to `peer`; fails if the relay granted none.
    func channel(to peer: PublicKey) throws -> UInt16 {
        guard let port = channelGrant(to: peer), port != 0 else { throw Failure(description: "no channel granted") }
        return port
    }

    func send(_ payload: [UInt8], to peer: PublicKey) {
        socket.send(relay.wrap(payload, to: peer, nowMillis: RelayClock.wallMillis()))
    }

    /// The next data frame for us: source key and payload.
    func receiveData(timeout: Double) -> (source: PublicKey, payload: [UInt8])? {
        let deadline = Date().addingTimeInterval(timeout)
        while deadline.timeIntervalSinceNow > 0, let frame = socket.receive(timeout: deadline.timeIntervalSinceNow) {
            let event = frame.withUnsafeBytes { relay.receive($0, nowMillis: RelayClock.wallMillis()) }
            if case .data(let source, _, let range) = event { return (source, Array(frame[range])) }
        }
        return nil
    }

    /// Every data frame that arrives within `timeout` seconds.
    func countData(timeout: Double) -> Int {
        var count = 0
        while receiveData(timeout: timeout) != nil { count += 1 }
        return count
    }
}
