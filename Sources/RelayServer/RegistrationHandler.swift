import RelayWire
import WireGuard

/// Verifies register and announce frames and seals registered answers. Pure given the relay's
/// key and the clock passed in: the relay service and the unit tests drive it the same way.
public struct RegistrationHandler: Sendable {
    public struct Accepted: Equatable, Sendable {
        public var clientKey: PublicKey
        public var timestamp: UInt64
    }

    public struct Refused: Equatable, Sendable, Error {
        public var reason: DropReason
        /// An error frame to send back; only for senders whose box opened.
        public var reply: ErrorFrame?

        public init(reason: DropReason, reply: ErrorFrame? = nil) {
            self.reason = reason
            self.reply = reply
        }
    }

    public let relayKey: PrivateKey
    public let relayPublicKey: PublicKey
    public let windowMillis: UInt64
    private var replayCache: ReplayCache

    public init(relayKey: PrivateKey, windowMillis: UInt64 = RelayWire.timestampWindowMillis, replayCache: ReplayCache = ReplayCache()) {
        self.relayKey = relayKey
        relayPublicKey = relayKey.publicKey
        self.windowMillis = windowMillis
        self.replayCache = replayCache
    }

    public mutating func verifyRegister(_ frame: UnsafeRawBufferPointer, nowMillis: UInt64) -> Result<Accepted, Refused> {
        guard let register = RegisterFrame.decode(frame) else { return .failure(Refused(reason: .malformed)) }
        guard let plaintext = RelayBox.open(register.sealedTimestamp, nonce: register.nonce, from: register.clientKey, to: relayKey),
              plaintext.count == 8 else { return .failure(Refused(reason: .badBox)) }
        let timestamp = plaintext.withUnsafeBytes { BigEndian.readU64($0, at: 0) }
        if let refused = checkFreshness(timestamp: timestamp, nonce: register.nonce, nowMillis: nowMillis) { return .failure(refused) }
        return .success(Accepted(clientKey: register.clientKey, timestamp: timestamp))
    }

    public mutating func verifyAnnounce(_ frame: UnsafeRawBufferPointer, nowMillis: UInt64) -> Result<(PublicKey, AnnouncePayload), Refused> {
        guard let announce = AnnounceFrame.decode(frame) else { return .failure(Refused(reason: .malformed)) }
        guard let plaintext = RelayBox.open(announce.sealedPayload, nonce: announce.nonce, from: announce.announcerKey, to: relayKey) else {
            return .failure(Refused(reason: .badBox))
        }
        guard let payload = AnnouncePayload.decode(plaintext) else { return .failure(Refused(reason: .malformed)) }
        if let refused = checkFreshness(timestamp: payload.timestamp, nonce: announce.nonce, nowMillis: nowMillis) {
            return .failure(Refused(reason: refused.reason))
        }
        return .success((announce.announcerKey, payload))
    }

    /// The registered frame for an accepted client.
    public func registeredFrame(for client: PublicKey, sessionID: UInt64, echoedTimestamp: UInt64, observedAddress: RelayAddress) -> [UInt8] {
        let payload = RegisteredPayload(sessionID: sessionID, echoedTimestamp: echoedTimestamp, observedAddress: observedAddress)
        let nonce = RelayBox.randomNonce()
        return RegisteredFrame(nonce: nonce, sealedPayload: RelayBox.seal(payload.encode(), nonce: nonce, to: client, from: relayKey)).encode()
    }

    private mutating func checkFreshness(timestamp: UInt64, nonce: [UInt8], nowMillis: UInt64) -> Refused? {
        let skew = timestamp > nowMillis ? timestamp - nowMillis : nowMillis - timestamp
        guard skew <= windowMillis else {
            return Refused(reason: .staleTimestamp, reply: ErrorFrame(code: .staleTimestamp, relayClockMillis: nowMillis))
        }
        switch replayCache.insert(nonce, now: nowMillis) {
        case .fresh: return nil
        case .replayed: return Refused(reason: .replayedNonce)
        case .full: return Refused(reason: .replayCacheFull)
        }
    }
}
