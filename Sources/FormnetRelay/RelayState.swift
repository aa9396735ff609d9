import WireGuard

/// A moment as the relay sees it: wall-clock milliseconds for protocol timestamps, monotonic
/// nanoseconds for rate limits (which must not jump when the wall clock is set).
public struct RelayInstant: Sendable {
    public var wallMillis: UInt64
    public var monotonicNanos: UInt64

    public init(wallMillis: UInt64, monotonicNanos: UInt64) {
        self.wallMillis = wallMillis
        self.monotonicNanos = monotonicNanos
    }
}

/// What to do with a frame after the relay state handled it.
public enum RelayOutcome: Equatable, Sendable {
    /// Nothing to send; the reason is already counted.
    case drop(DropReason)
    /// The buffer now holds a frame of this length for the sender.
    case reply(length: Int)
    /// The buffer now holds a rewritten data frame of this length for `to`.
    case forward(to: Binding, length: Int)
    /// Accepted; nothing to send (an announcement).
    case consumed
}

/// The relay's whole protocol logic and state, with no sockets: each frame goes through
/// `handle`, which decides — in the order docs/relay-protocol.md gives — to drop, answer or
/// forward it, rewriting the buffer in place. The service keeps one behind a lock.
public struct RelayState: Sendable {
    public let configuration: RelayConfiguration
    public private(set) var sessions: SessionTable
    public private(set) var counters = RelayCounters()
    public private(set) var policy: AccessPolicy
    public private(set) var knownRelays: KnownRelays
    private var registration: RegistrationHandler
    private var frameLimiter: AddressRateLimiter
    private var registrationLimiter: AddressRateLimiter
    /// Across all addresses: spoofed sources defeat a per-address limit, and every register
    /// frame costs an X25519 operation on the forwarding thread.
    private var registrationBudget: TokenBucket

    public var publicKey: PublicKey { registration.relayPublicKey }

    public init(relayKey: PrivateKey, configuration: RelayConfiguration, policy: AccessPolicy, now: RelayInstant) {
        self.configuration = configuration
        self.policy = policy
        registration = RegistrationHandler(relayKey: relayKey)
        sessions = SessionTable(expectedSessions: min(configuration.maxConnections, 16_384), tunnelCapacity: configuration.maxTunnelsPerDevice)
        knownRelays = KnownRelays(configured: configuration.peerRelays)
        frameLimiter = AddressRateLimiter(ratePerSecond: Int64(configuration.rateLimit), burst: Int64(2 * configuration.rateLimit), now: now.monotonicNanos)
        registrationLimiter = AddressRateLimiter(ratePerSecond: Int64(configuration.registrationRatePerSecond),
                                                 burst: Int64(configuration.registrationBurst), now: now.monotonicNanos)
        registrationBudget = TokenBucket(ratePerSecond: Int64(configuration.registrationsPerSecondTotal),
                                         burst: Int64(2 * configuration.registrationsPerSecondTotal), now: now.monotonicNanos)
    }

    /// Handles the `length`-byte frame at the start of `buffer`, which must have room for
    /// `RelayWire.maxFrame` bytes (replies are written into it). `source` is where the frame came
    /// from; `observed` is its address (the TCP peer's for a TCP connection).
    public mutating func handle(_ buffer: UnsafeMutableRawBufferPointer, length: Int, from source: Binding, observed: RelayAddress,
                                now: RelayInstant) -> RelayOutcome {
        precondition(buffer.count >= RelayWire.maxFrame)
        counters.bytesReceived &+= UInt64(length)
        let frame = UnsafeRawBufferPointer(rebasing: buffer[0..<min(length, buffer.count)])
        let type: FrameType
        switch FrameType.classify(frame) {
        case .success(let t): type = t
        case .failure(let reason): return drop(reason)
        }
        counters.framesReceived[Int(type.rawValue)] &+= 1
        guard frameLimiter.allow(observed, now: now.monotonicNanos) else { return drop(.rateLimited) }
        switch type {
        case .data: return handleData(buffer, length: length, from: source, now: now)
        case .register: return handleRegister(buffer, frame: frame, from: source, observed: observed, now: now)
        case .ping: return handlePing(buffer, frame: frame, from: source, now: now)
        case .infoRequest:
            guard let request = PaddedRequestFrame.decode(frame, as: .infoRequest) else { return drop(.malformed) }
            return reply(info(echo: request.echo).encode(), into: buffer)
        case .discoveryQuery:
            guard let request = PaddedRequestFrame.decode(frame, as: .discoveryQuery) else { return drop(.malformed) }
            return reply(DiscoveryResponseFrame(echo: request.echo, relays: knownRelays.list(nowMillis: now.wallMillis)).encode(), into: buffer)
        case .announce: return handleAnnounce(frame, observed: observed, now: now)
        case .registered, .peerUnknown, .pong, .error, .infoResponse, .discoveryResponse: return drop(.unexpectedType)
        }
    }

    @inline(__always)
    private mutating func handleData(_ buffer: UnsafeMutableRawBufferPointer, length: Int, from source: Binding, now: RelayInstant) -> RelayOutcome {
        let frame = UnsafeRawBufferPointer(rebasing: buffer[0..<length])
        guard DataFrameHeader.isWellFormed(frame) else { return drop(.malformed) }
        guard let slot = sessions.slot(forSession: BigEndian.readU64(frame, at: DataFrameHeader.sessionOffset)) else { return drop(.unknownSession) }
        guard sessions.slots[slot].binding == source else { return drop(.spoofedSession) }
        guard isFresh(BigEndian.readU64(frame, at: DataFrameHeader.timestampOffset), now: now) else { return drop(.staleTimestamp) }
        sessions.touch(slot: slot, nowMillis: now.wallMillis)
        let destination = PeerID(frame, at: DataFrameHeader.peerOffset)
        guard let destinationSlot = sessions.slot(forPeer: destination) else {
            counters.drop(.peerUnknown)
            return reply(PeerUnknownFrame(peer: destination.publicKey).encode(), into: buffer)
        }
        guard destinationSlot != slot else { return drop(.selfDestination) }
        let bandwidth = configuration.bandwidthBytesPerSecond
        let burst = configuration.bandwidthBurst
        let nowNanos = now.monotonicNanos
        switch sessions.tunnel(from: slot, to: destination, limit: configuration.maxTunnelsPerDevice,
                               makeBucket: { TokenBucket(ratePerSecond: bandwidth, burst: burst, now: nowNanos) }) {
        case .tooMany:
            counters.drop(.tooManyTunnels)
            return reply(ErrorFrame(code: .tooManyTunnels, relayClockMillis: now.wallMillis).encode(), into: buffer)
        case .admitted(let tunnel):
            guard sessions.charge(slot: slot, tunnel: tunnel, bytes: length, nowNanos: nowNanos) else { return drop(.bandwidth) }
        }
        // Fields read one by one: copying a whole Session would retain its tunnel array per frame.
        sessions.slots[slot].peer.write(to: buffer, at: DataFrameHeader.peerOffset)
        BigEndian.write(sessions.slots[destinationSlot].id, to: buffer, at: DataFrameHeader.sessionOffset)
        counters.framesForwarded &+= 1
        counters.bytesForwarded &+= UInt64(length)
        return .forward(to: sessions.slots[destinationSlot].binding, length: length)
    }

    private mutating func handleRegister(_ buffer: UnsafeMutableRawBufferPointer, frame: UnsafeRawBufferPointer, from source: Binding,
                                         observed: RelayAddress, now: RelayInstant) -> RelayOutcome {
        guard frame.count == RegisterFrame.length else { return drop(.malformed) }
        guard registrationLimiter.allow(observed, now: now.monotonicNanos),
              registrationBudget.take(1, now: now.monotonicNanos) else { return drop(.registrationRateLimited) }
        let accepted: RegistrationHandler.Accepted
        switch registration.verifyRegister(frame, nowMillis: now.wallMillis) {
        case .success(let a): accepted = a
        case .failure(let refused):
            counters.drop(refused.reason)
            return refused.reply.map { reply($0.encode(), into: buffer) } ?? .drop(refused.reason)
        }
        guard policy.admits(accepted.clientKey) else {
            return refuse(.notAllowed, code: .notAllowed, into: buffer, now: now)
        }
        if sessions.slot(forKey: accepted.clientKey) == nil, sessions.count >= configuration.maxConnections {
            return refuse(.relayFull, code: .relayFull, into: buffer, now: now)
        }
        var id = RelayBox.randomNonZeroUInt64()
        while sessions.slot(forSession: id) != nil { id = RelayBox.randomNonZeroUInt64() }
        sessions.register(key: accepted.clientKey, id: id, binding: source, nowMillis: now.wallMillis)
        counters.registrations &+= 1
        return reply(registration.registeredFrame(for: accepted.clientKey, sessionID: id, echoedTimestamp: accepted.timestamp, observedAddress: observed),
                     into: buffer)
    }

    private mutating func handlePing(_ buffer: UnsafeMutableRawBufferPointer, frame: UnsafeRawBufferPointer, from source: Binding,
                                     now: RelayInstant) -> RelayOutcome {
        guard let ping = EchoFrame.decode(frame, as: .ping) else { return drop(.malformed) }
        var session: UInt64 = 0
        if let slot = sessions.slot(forSession: ping.sessionID), sessions.slots[slot].binding == source {
            sessions.touch(slot: slot, nowMillis: now.wallMillis)
            session = ping.sessionID
        }
        return reply(EchoFrame.pong(sessionID: session, echo: ping.echo).encode(), into: buffer)
    }

    private mutating func handleAnnounce(_ frame: UnsafeRawBufferPointer, observed: RelayAddress, now: RelayInstant) -> RelayOutcome {
        guard registrationLimiter.allow(observed, now: now.monotonicNanos),
              registrationBudget.take(1, now: now.monotonicNanos) else { return drop(.registrationRateLimited) }
        switch registration.verifyAnnounce(frame, nowMillis: now.wallMillis) {
        case .failure(let refused): return drop(refused.reason)
        case .success(let (key, payload)):
            let admitted = knownRelays.isConfigured(key) || (!policy.isOpen && policy.admits(key))
            guard admitted else { return drop(.notAllowed) }
            var endpoint = payload.endpoint
            if endpoint.isUnspecifiedIPv4 { endpoint = RelayAddress(high: observed.high, low: observed.low, port: endpoint.port) }
            knownRelays.recordAnnouncement(KnownRelay(key: key, endpoint: endpoint, location: payload.location), nowMillis: now.wallMillis)
            return .consumed
        }
    }

    public func info(echo: UInt64) -> InfoResponseFrame {
        InfoResponseFrame(echo: echo, relayKey: publicKey, capacity: UInt32(clamping: configuration.maxConnections),
                          load: UInt32(clamping: sessions.count), location: configuration.location,
                          version: configuration.version, endpoints: configuration.endpoints)
    }

    /// Installs a new access policy and removes registrations it no longer admits.
    public mutating func replacePolicy(_ newPolicy: AccessPolicy) {
        policy = newPolicy
        sessions.removeAll(idleBefore: 0) { !newPolicy.admits($0.key) }
    }

    /// Removes registrations idle for `RelayWire.sessionIdleMillis`; the service calls it every second.
    public mutating func expireIdle(now: RelayInstant) {
        let cutoff = now.wallMillis > RelayWire.sessionIdleMillis ? now.wallMillis - RelayWire.sessionIdleMillis : 0
        sessions.removeAll(idleBefore: cutoff)
    }

    /// Removes the registration bound to a TCP connection that closed.
    public mutating func connectionClosed(_ connection: UInt64) {
        sessions.removeAll(idleBefore: 0) {
            if case .tcp(connection, _) = $0.binding { return true }
            return false
        }
    }

    /// Counts a TCP stream whose length prefix was out of bounds.
    public mutating func countMalformed() { counters.drop(.malformed) }

    /// Counts a frame that was decided on but could not be sent.
    public mutating func countSendFailure() { counters.drop(.sendFailed) }

    @inline(__always)
    private func isFresh(_ timestamp: UInt64, now: RelayInstant) -> Bool {
        let skew = timestamp > now.wallMillis ? timestamp - now.wallMillis : now.wallMillis - timestamp
        return skew <= RelayWire.timestampWindowMillis
    }

    @inline(__always)
    private mutating func drop(_ reason: DropReason) -> RelayOutcome {
        counters.drop(reason)
        return .drop(reason)
    }

    private mutating func refuse(_ reason: DropReason, code: RelayErrorCode, into buffer: UnsafeMutableRawBufferPointer, now: RelayInstant) -> RelayOutcome {
        counters.drop(reason)
        return reply(ErrorFrame(code: code, relayClockMillis: now.wallMillis).encode(), into: buffer)
    }

    private func reply(_ bytes: [UInt8], into buffer: UnsafeMutableRawBufferPointer) -> RelayOutcome {
        precondition(bytes.count <= buffer.count)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return .reply(length: bytes.count)
    }
}
