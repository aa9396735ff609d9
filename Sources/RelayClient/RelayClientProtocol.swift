import RelayWire
import WireGuard

/// The client side of the relay protocol for one relay, without sockets: builds register,
/// ping and data frames and interprets what the relay sends back. The agent's loopback proxy
/// and the test clients both drive it; see the client state machine in docs/relay-protocol.md.
public struct RelayClientProtocol: Sendable {
    public enum Event: Equatable, Sendable {
        case registered(RegisteredPayload)
        /// A data frame for us: the source's key and where the WireGuard packet lies in the frame.
        case data(source: PublicKey, header: DataFrameHeader, payload: Range<Int>)
        case pong(echo: UInt64, stillRegistered: Bool)
        /// The answer to a UDP probe (`RelayLinkMachine.udpProbeEchoes`): says nothing of the session.
        case udpProbeAnswered
        case peerUnknown(PublicKey)
        case error(ErrorFrame)
        case info(InfoResponseFrame)
        case discovery(DiscoveryResponseFrame)
        /// The relay's channel port for a peer (0: none), answering our channel request.
        case channel(peer: PublicKey, port: UInt16)
        /// The relay asks us to prove our address: register again now (`makeRegister` uses the cookie).
        case cookie
        /// Not for us, not authentic, or not something a relay sends.
        case ignored
    }

    public let clientKey: PrivateKey
    public let clientPublicKey: PublicKey
    public let relayKey: PublicKey
    public private(set) var sessionID: UInt64 = 0
    public private(set) var observedAddress: RelayAddress?
    /// Relay clock minus ours, learned from a stale-timestamp error; added to every timestamp sent.
    public private(set) var clockOffsetMillis: Int64 = 0
    /// The register frames sent and not yet answered, oldest first (at most
    /// `maxOutstandingRegisters`). Any of them may be answered: a retry or the fallback to TCP
    /// leaves before the answer to the frame before it once the relay is more than a quarter
    /// second away, and accepting only the newest frame's answer dropped every UDP answer of a
    /// member 300 ms from its relay, which then registered over TCP (1.1 s instead of 0.6 s).
    private var outstanding: [(nonce: [UInt8], timestamp: UInt64)] = []
    static let maxOutstandingRegisters = 4
    /// Seconds from the register frame the last cookie or registered answer matched to that
    /// answer: the first round trip to the relay a member can measure, a round before its first
    /// pong (`RelayLinkMachine.answered`).
    public private(set) var answerRoundTrip: Double?
    /// The relay's cookie for our address, and when it came (our clock).
    private var cookie: (bytes: [UInt8], receivedMillis: UInt64)?

    public init(clientKey: PrivateKey, relayKey: PublicKey) {
        self.clientKey = clientKey
        clientPublicKey = clientKey.publicKey
        self.relayKey = relayKey
    }

    public var isRegistered: Bool { sessionID != 0 }

    /// The relay no longer holds our session: nothing is sent or taken under it until the next
    /// registration.
    public mutating func forgetSession() { sessionID = 0 }

    public func relayTime(_ nowMillis: UInt64) -> UInt64 { UInt64(clamping: Int64(clamping: nowMillis) &+ clockOffsetMillis) }

    /// A fresh register frame (new nonce), whose answer is accepted while it is one of the last
    /// `maxOutstandingRegisters` sent. While the relay's last cookie is fresh, the nonce begins
    /// with it.
    public mutating func makeRegister(nowMillis: UInt64) -> [UInt8] {
        // Strictly increasing: an answer names its frame by the timestamp it echoes.
        let timestamp = max(relayTime(nowMillis), (outstanding.last?.timestamp ?? 0) &+ 1)
        var nonce = RelayBox.randomNonce()
        if let cookie, nowMillis &- cookie.receivedMillis < RelayWire.cookieUseMillis {
            nonce.replaceSubrange(0..<RelayWire.cookieLength, with: cookie.bytes)
        }
        outstanding.append((nonce, timestamp))
        if outstanding.count > Self.maxOutstandingRegisters { outstanding.removeFirst(outstanding.count - Self.maxOutstandingRegisters) }
        return Self.registerFrame(clientKey: clientKey, relayKey: relayKey, timestamp: timestamp, nonce: nonce)
    }

    /// A frame is answered for 10 s: one left outstanding while registered is not answered later
    /// (a late or replayed answer would switch to a session the relay has replaced).
    static let answerWindowMillis: UInt64 = 10_000

    /// The outstanding frame an answer is for, if it is fresh; records the round trip to it
    /// (none when the clock moved back).
    private mutating func answered(_ isFrame: ((nonce: [UInt8], timestamp: UInt64)) -> Bool, nowMillis: UInt64) -> Int? {
        let now = relayTime(nowMillis)
        guard let index = outstanding.firstIndex(where: isFrame), now <= outstanding[index].timestamp &+ Self.answerWindowMillis else { return nil }
        let sent = outstanding[index].timestamp
        answerRoundTrip = now >= sent ? Double(now - sent) / 1000 : nil
        return index
    }

    /// A register frame with the given fields, for callers (tests) that choose them.
    public static func registerFrame(clientKey: PrivateKey, relayKey: PublicKey, timestamp: UInt64, nonce: [UInt8]) -> [UInt8] {
        var plaintext = [UInt8]()
        BigEndian.append(timestamp, to: &plaintext)
        return RegisterFrame(clientKey: clientKey.publicKey, nonce: nonce,
                             sealedTimestamp: RelayBox.seal(plaintext, nonce: nonce, to: relayKey, from: clientKey)).encode()
    }

    public func makePing(echo: UInt64) -> [UInt8] { EchoFrame.ping(sessionID: sessionID, echo: echo).encode() }

    /// Asks for (or renews) the channel on which our WireGuard may send to `peer` directly.
    public func makeChannelRequest(to peer: PublicKey, nowMillis: UInt64) -> [UInt8] {
        ChannelRequestFrame(peer: peer, sessionID: sessionID, timestamp: relayTime(nowMillis)).encode()
    }

    /// Gives the pair's channels up at this relay: they do not work (see channel-release).
    public func makeChannelRelease(to peer: PublicKey, nowMillis: UInt64) -> [UInt8] {
        ChannelRequestFrame(peer: peer, sessionID: sessionID, timestamp: relayTime(nowMillis), kind: .release).encode()
    }

    /// Closes our channel for `peer`: the pair no longer goes through this relay.
    public func makeChannelClose(to peer: PublicKey, nowMillis: UInt64) -> [UInt8] {
        ChannelRequestFrame(peer: peer, sessionID: sessionID, timestamp: relayTime(nowMillis), kind: .close).encode()
    }

    /// A data frame carrying `payload` (a WireGuard packet) to `destination`.
    public func wrap<Payload: Collection>(_ payload: Payload, to destination: PublicKey, nowMillis: UInt64) -> [UInt8] where Payload.Element == UInt8 {
        DataFrameHeader(peer: destination, sessionID: sessionID, timestamp: relayTime(nowMillis)).wrap(payload)
    }

    /// Writes the data header into the first 51 bytes of `buffer`, for a proxy that received the
    /// WireGuard packet at offset 51 of the same buffer: no copy of the packet.
    public func writeHeader(into buffer: UnsafeMutableRawBufferPointer, to destination: PublicKey, nowMillis: UInt64) {
        DataFrameHeader(peer: destination, sessionID: sessionID, timestamp: relayTime(nowMillis)).write(into: buffer)
    }

    public mutating func receive(_ frame: UnsafeRawBufferPointer, nowMillis: UInt64) -> Event {
        guard case .success(let type) = FrameType.classify(frame) else { return .ignored }
        switch type {
        case .data:
            guard let (header, payload) = DataFrameHeader.unwrap(frame), isRegistered, header.sessionID == sessionID else { return .ignored }
            return .data(source: header.peer, header: header, payload: payload)
        case .registered:
            guard let registered = RegisteredFrame.decode(frame),
                  let plaintext = RelayBox.open(registered.sealedPayload, nonce: registered.nonce, from: relayKey, to: clientKey),
                  let payload = RegisteredPayload.decode(plaintext), payload.sessionID != 0,
                  let index = answered({ $0.timestamp == payload.echoedTimestamp }, nowMillis: nowMillis) else { return .ignored }
            // Frames sent after it stay outstanding: the relay registers each it takes, and the
            // session of the last one is the one it keeps (a retry that crossed the answer).
            outstanding.removeFirst(index + 1)
            sessionID = payload.sessionID
            observedAddress = payload.observedAddress
            return .registered(payload)
        case .pong:
            guard let pong = EchoFrame.decode(frame, as: .pong) else { return .ignored }
            if pong.echo & RelayLinkMachine.udpProbeEchoes != 0 { return .udpProbeAnswered }
            // Whether "not registered" is about this session is the link's to judge (the echo
            // tells which registration the ping was sent in): `forgetSession`.
            return .pong(echo: pong.echo, stillRegistered: isRegistered && pong.sessionID == sessionID)
        case .peerUnknown:
            return PeerUnknownFrame.decode(frame).map { .peerUnknown($0.peer) } ?? .ignored
        case .error:
            guard let error = ErrorFrame.decode(frame) else { return .ignored }
            if error.code == .staleTimestamp {
                clockOffsetMillis = Int64(clamping: error.relayClockMillis) &- Int64(clamping: nowMillis)
            }
            return .error(error)
        case .infoResponse:
            return InfoResponseFrame.decode(frame).map { .info($0) } ?? .ignored
        case .discoveryResponse:
            return DiscoveryResponseFrame.decode(frame).map { .discovery($0) } ?? .ignored
        case .channelGrant:
            guard let grant = ChannelGrantFrame.decode(frame), isRegistered, grant.sessionID == sessionID else { return .ignored }
            return .channel(peer: grant.peer, port: grant.port)
        case .cookie:
            guard let frame = CookieFrame.decode(frame), answered({ $0.nonce == frame.nonce }, nowMillis: nowMillis) != nil else { return .ignored }
            // The next frame carries the cookie; the cookies for the frames sent without it are
            // not answers to that one, and each would make the link register once more.
            outstanding = []
            cookie = (frame.cookie, nowMillis)
            return .cookie
        case .register, .ping, .infoRequest, .discoveryQuery, .announce, .channelRequest, .channelRelease, .channelClose:
            return .ignored
        }
    }
}
