import RelayWire
import WireGuard

/// What to do with a frame after the relay state handled it.
public enum RelayOutcome: Equatable, Sendable {
    /// Nothing to send; the reason is already counted.
    case drop(DropReason)
    /// The buffer now holds a frame of this length for the sender.
    case reply(length: Int)
    /// The buffer now holds a rewritten data frame of this length for `to`.
    case forward(to: Binding, length: Int)
    /// The WireGuard packet of this length at offset `RelayWire.dataHeaderLength` of the buffer
    /// goes, as it is, out of channel socket `socket` to `to`.
    case forwardRaw(socket: Int32, to: RelayAddress, length: Int)
    /// Accepted; nothing to send (an announcement, a channel release).
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
    public private(set) var channels = ChannelTable()
    private let channelPorts: (any ChannelPorts)?
    private var registration: RegistrationHandler
    private var frameLimiter: AddressRateLimiter
    private var registrationLimiter: AddressRateLimiter
    /// The same limit for register frames with a valid cookie, apart: a flood spoofing a
    /// client's address cannot spend what that client's own frames may use.
    private var provenRegistrationLimiter: AddressRateLimiter
    /// Across all addresses: spoofed sources defeat a per-address limit, and every register
    /// frame costs an X25519 operation on the forwarding thread. Its lower half is kept for
    /// register frames with a valid cookie.
    private var registrationBudget: TokenBucket
    private var cookies: RegistrationCookies
    /// Until then (monotonic) every registration needs a cookie.
    private let cookiesRequiredUntil: UInt64

    public var publicKey: PublicKey { registration.relayPublicKey }

    /// Without `channelPorts` every channel request is answered with port 0 (no channel).
    public init(relayKey: PrivateKey, configuration: RelayConfiguration, policy: AccessPolicy, now: RelayInstant,
                channelPorts: (any ChannelPorts)? = nil) {
        self.configuration = configuration
        self.channelPorts = channelPorts
        self.policy = policy
        registration = RegistrationHandler(relayKey: relayKey)
        sessions = SessionTable(expectedSessions: min(configuration.maxConnections, 16_384), tunnelCapacity: configuration.maxTunnelsPerDevice)
        knownRelays = KnownRelays(configured: configuration.peerRelays)
        frameLimiter = AddressRateLimiter(ratePerSecond: Int64(configuration.rateLimit), burst: Int64(2 * configuration.rateLimit), now: now.monotonicNanos)
        registrationLimiter = AddressRateLimiter(ratePerSecond: Int64(configuration.registrationRatePerSecond),
                                                 burst: Int64(configuration.registrationBurst), now: now.monotonicNanos)
        provenRegistrationLimiter = registrationLimiter
        registrationBudget = TokenBucket(ratePerSecond: Int64(configuration.registrationsPerSecondTotal),
                                         burst: Int64(2 * configuration.registrationsPerSecondTotal), now: now.monotonicNanos)
        cookies = RegistrationCookies(now: now.monotonicNanos)
        cookiesRequiredUntil = now.monotonicNanos &+ configuration.cookiesAfterStartMillis * 1_000_000
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
        case .channelRequest, .channelRelease, .channelClose: return handleChannelRequest(buffer, frame: frame, from: source, now: now)
        case .registered, .peerUnknown, .pong, .error, .infoResponse, .discoveryResponse, .channelGrant, .cookie: return drop(.unexpectedType)
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
        let payload = UnsafeRawBufferPointer(rebasing: frame[DataFrameHeader.length...])
        switch sessions.tunnel(from: slot, to: destination, limit: configuration.maxTunnelsPerDevice, nowNanos: nowNanos,
                               makeBucket: { TokenBucket(ratePerSecond: bandwidth, burst: burst, now: nowNanos) }) {
        case .tooMany:
            counters.drop(.tooManyTunnels)
            return reply(ErrorFrame(code: .tooManyTunnels, relayClockMillis: now.wallMillis).encode(), into: buffer)
        case .admitted(let tunnel):
            guard sessions.charge(slot: slot, tunnel: tunnel, bytes: length, nowNanos: nowNanos) else { return drop(.bandwidth) }
            if WireGuardMessageShape.isPlausible(payload) { sessions.recordIndices(of: payload, slot: slot, tunnel: tunnel) }
        }
        counters.framesForwarded &+= 1
        counters.bytesForwarded &+= UInt64(length)
        // The sender's WireGuard sends through its agent now, not its channel for the destination
        // (its agent moved it back to the proxy, or it roamed there): the destination's packets
        // reach it as data frames until it uses the channel again. Sent raw to the channel's
        // learned address meanwhile, they were lost for up to a minute whenever the NAT in front
        // of it had forgotten that mapping (the soak, after a conntrack flush: 47 s).
        if let own = channels.descriptor(owner: sessions.slots[slot].peer, peer: destination),
           channels[own]?.lastPacketMillis != 0 {
            channels.update(own) { $0.lastPacketMillis = 0 }
        }
        // The destination's WireGuard talks to us through its channel for the sender: the packet
        // goes there without the header, so that it arrives from where WireGuard expects it.
        if let back = channels.descriptor(owner: destination, peer: sessions.slots[slot].peer),
           let address = deliveryAddress(of: back, for: payload, now: now) {
            counters.channelPacketsSent &+= 1
            return .forwardRaw(socket: back, to: address, length: length - DataFrameHeader.length)
        }
        // Fields read one by one: copying a whole Session would retain its tunnel array per frame.
        sessions.slots[slot].peer.write(to: buffer, at: DataFrameHeader.peerOffset)
        BigEndian.write(sessions.slots[destinationSlot].id, to: buffer, at: DataFrameHeader.sessionOffset)
        return .forward(to: sessions.slots[destinationSlot].binding, length: length)
    }

    /// A WireGuard packet that arrived on channel `descriptor` from `source`, lying at offset
    /// `RelayWire.dataHeaderLength` of `buffer` (the room before it takes a data header when
    /// the peer has no channel to send it out of). The checks, in order, are in
    /// docs/relay-protocol.md, "Channels".
    public mutating func handleChannelPacket(_ buffer: UnsafeMutableRawBufferPointer, length: Int, descriptor: Int32,
                                             from source: RelayAddress, now: RelayInstant) -> RelayOutcome {
        precondition(buffer.count >= RelayWire.maxFrame)
        counters.bytesReceived &+= UInt64(length)
        counters.channelPacketsReceived &+= 1
        guard frameLimiter.allow(source, now: now.monotonicNanos) else { return drop(.rateLimited) }
        guard let channel = channels[descriptor], let slot = sessions.slot(forPeer: channel.owner) else { return drop(.unknownSession) }
        let headerLength = DataFrameHeader.length
        guard length <= RelayWire.maxPayload else { return drop(.notWireGuard) }
        let packet = UnsafeRawBufferPointer(rebasing: buffer[headerLength..<headerLength + length])
        guard WireGuardMessageShape.isPlausible(packet) else { return drop(.notWireGuard) }
        // Whether this packet comes from where the owner's WireGuard sends from, known or proven now.
        var fromLearned = source == channel.learned
        if !fromLearned {
            // Only the owner's WireGuard knows the indices the peer's WireGuard chose, because
            // only it received the peer's initiations and responses: a source that names one is
            // the owner's, from whatever address. Anyone else is forwarded nothing back.
            var proven = false
            if let index = WireGuardMessageShape.receiverIndex(packet) {
                var allowed = false
                channels.update(descriptor) { allowed = $0.allowsProof(nowMillis: now.wallMillis) }
                proven = allowed && sessions.isIndex(index, of: channel.peer, with: channel.owner)
            }
            if proven {
                fromLearned = true
                channels.update(descriptor) {
                    $0.learned = source
                    $0.pending = nil
                }
            } else if case .udp(let bound) = sessions.slots[slot].binding, bound.high == source.high, bound.low == source.low {
                // From the owner's address (its WireGuard's socket is not the agent's, and a
                // symmetric NAT gives it a port of its own): forwarded toward the peer, which
                // drops what its WireGuard did not make; an initiation waits for the response
                // that names its index before its source is learned.
                if let index = WireGuardMessageShape.senderIndex(packet), packet[0] == 1 {
                    channels.update(descriptor) { $0.pending = RelayChannel.PendingInitiation(source: source, index: index) }
                }
            } else {
                // Nothing is said to the owner: a stranger could say it. A WireGuard that really
                // sends from elsewhere (its agent's relay sees the agent at another address, and
                // then asks for no channel) proves itself with an index.
                return drop(.channelForbidden)
            }
        }
        sessions.touch(slot: slot, nowMillis: now.wallMillis)
        channels.update(descriptor) {
            if fromLearned { $0.lastPacketMillis = now.wallMillis }
            $0.lastUseMillis = now.wallMillis
        }
        guard let destinationSlot = sessions.slot(forPeer: channel.peer) else {
            counters.drop(.peerUnknown)
            // Said to the owner's agent: its WireGuard cannot hear it, and the agent then sends
            // the peer through another relay.
            return noticeToOwner(PeerUnknownFrame(peer: channel.peer.publicKey).encode(),
                                 of: channel, descriptor: descriptor, slot: slot, into: buffer, now: now, otherwise: .peerUnknown)
        }
        let bandwidth = configuration.bandwidthBytesPerSecond
        let burst = configuration.bandwidthBurst
        let nowNanos = now.monotonicNanos
        switch sessions.tunnel(from: slot, to: channel.peer, limit: configuration.maxTunnelsPerDevice, nowNanos: nowNanos,
                               makeBucket: { TokenBucket(ratePerSecond: bandwidth, burst: burst, now: nowNanos) }) {
        case .tooMany: return drop(.tooManyTunnels)
        case .admitted(let tunnel):
            guard sessions.charge(slot: slot, tunnel: tunnel, bytes: headerLength + length, nowNanos: nowNanos) else { return drop(.bandwidth) }
            // Only the learned source's packets are the owner's WireGuard's for certain: a
            // co-tenant's, forwarded from the owner's address, must not teach the relay indices.
            if fromLearned { sessions.recordIndices(of: packet, slot: slot, tunnel: tunnel) }
        }
        counters.framesForwarded &+= 1
        counters.bytesForwarded &+= UInt64(headerLength + length)
        if let back = channels.descriptor(owner: channel.peer, peer: channel.owner),
           let address = deliveryAddress(of: back, for: packet, now: now) {
            counters.channelPacketsSent &+= 1
            return .forwardRaw(socket: back, to: address, length: length)
        }
        DataFrameHeader(peer: channel.owner.publicKey, sessionID: sessions.slots[destinationSlot].id, timestamp: now.wallMillis)
            .write(into: buffer)
        return .forward(to: sessions.slots[destinationSlot].binding, length: headerLength + length)
    }

    /// Where a packet for channel `descriptor`'s owner goes raw: its learned address while fresh.
    /// A response that names the index of the owner's pending initiation first makes that
    /// initiation's source the learned address: it is where the owner's WireGuard sends from.
    private mutating func deliveryAddress(of descriptor: Int32, for packet: UnsafeRawBufferPointer, now: RelayInstant) -> RelayAddress? {
        if let pending = channels[descriptor]?.pending, WireGuardMessageShape.isPlausible(packet), packet[0] == 2,
           WireGuardMessageShape.receiverIndex(packet) == pending.index {
            channels.update(descriptor) {
                $0.learned = pending.source
                $0.lastPacketMillis = now.wallMillis
                $0.pending = nil
            }
            // The peer's WireGuard answered that initiation: it was the owner's WireGuard's.
            if let channel = channels[descriptor] { sessions.recordOwnIndex(pending.index, of: channel.owner, toward: channel.peer) }
        }
        return channels[descriptor]?.deliversRaw(nowMillis: now.wallMillis)
    }

    /// Sends `frame` to a channel's owner through its verified registration, at most once a second
    /// per channel; in between the packet is only dropped (already counted as `reason`).
    private mutating func noticeToOwner(_ frame: [UInt8], of channel: RelayChannel, descriptor: Int32, slot: Int,
                                        into buffer: UnsafeMutableRawBufferPointer, now: RelayInstant,
                                        otherwise reason: DropReason) -> RelayOutcome {
        guard now.wallMillis &- channel.lastNoticeMillis >= RelayWire.channelNoticeIntervalMillis else { return .drop(reason) }
        channels.update(descriptor) { $0.lastNoticeMillis = now.wallMillis }
        return send(frame, to: sessions.slots[slot].binding, into: buffer)
    }

    /// A control frame of the relay's own for a client other than the sender.
    private func send(_ frame: [UInt8], to binding: Binding, into buffer: UnsafeMutableRawBufferPointer) -> RelayOutcome {
        frame.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return .forward(to: binding, length: frame.count)
    }

    /// Grants (or renews) the sender's channel for a peer; port 0 says no channel: the request
    /// came over TCP (the client's WireGuard cannot reach a UDP port), no port could be opened,
    /// or `maxChannels` are open. A release is not answered: it closes the sender's channel for
    /// the peer and the peer's for the sender, and tells the peer (see "channel-release" in
    /// docs/relay-protocol.md). A close is not answered either, and closes the sender's only.
    private mutating func handleChannelRequest(_ buffer: UnsafeMutableRawBufferPointer, frame: UnsafeRawBufferPointer, from source: Binding,
                                               now: RelayInstant) -> RelayOutcome {
        guard let request = ChannelRequestFrame.decode(frame) else { return drop(.malformed) }
        guard let slot = sessions.slot(forSession: request.sessionID) else { return drop(.unknownSession) }
        guard sessions.slots[slot].binding == source else { return drop(.spoofedSession) }
        guard isFresh(request.timestamp, now: now) else { return drop(.staleTimestamp) }
        sessions.touch(slot: slot, nowMillis: now.wallMillis)
        let owner = sessions.slots[slot].peer
        let peer = PeerID(request.peer)
        guard peer != owner else { return drop(.selfDestination) }
        var port: UInt16 = 0
        switch request.kind {
        case .request: break
        case .close:
            for channel in channels.removeAll(where: { $0.owner == owner && $0.peer == peer }) { channelPorts?.close(channel.descriptor) }
            return .consumed
        case .release:
            let closed = channels.removeAll { ($0.owner == owner && $0.peer == peer) || ($0.owner == peer && $0.peer == owner) }
            for channel in closed { channelPorts?.close(channel.descriptor) }
            guard closed.contains(where: { $0.owner == peer }), let peerSlot = sessions.slot(forPeer: peer) else { return .consumed }
            return send(ChannelGrantFrame(peer: sessions.slots[slot].key, sessionID: sessions.slots[peerSlot].id, port: 0).encode(),
                        to: sessions.slots[peerSlot].binding, into: buffer)
        }
        if let existing = channels.descriptor(owner: owner, peer: peer) {
            channels.update(existing) { $0.lastUseMillis = now.wallMillis }
            port = channels[existing]?.port ?? 0
        } else if case .udp = source, let channelPorts {
            if channels.count >= configuration.maxChannels {
                counters.drop(.channelsFull)
            } else if channels.count(owner: owner) >= configuration.maxTunnelsPerDevice {
                // A channel carries one destination's packets, and a client may send to
                // `maxTunnelsPerDevice` destinations: more channels could carry nothing.
                counters.drop(.channelsPerClient)
            } else if let opened = channelPorts.open() {
                channels.insert(RelayChannel(owner: owner, peer: peer, descriptor: opened.descriptor, port: opened.port, lastUseMillis: now.wallMillis))
                port = opened.port
            } else {
                counters.drop(.channelsFull)
            }
        }
        return reply(ChannelGrantFrame(peer: request.peer, sessionID: request.sessionID, port: port).encode(), into: buffer)
    }

    private mutating func handleRegister(_ buffer: UnsafeMutableRawBufferPointer, frame: UnsafeRawBufferPointer, from source: Binding,
                                         observed: RelayAddress, now: RelayInstant) -> RelayOutcome {
        guard frame.count == RegisterFrame.length else { return drop(.malformed) }
        let nonce = UnsafeRawBufferPointer(rebasing: frame[RegisterFrame.nonceOffset..<RegisterFrame.nonceOffset + RelayWire.nonceLength])
        let mono = now.monotonicNanos
        if cookies.accepts(nonce: nonce, from: observed, now: mono) {
            guard provenRegistrationLimiter.allow(observed, now: mono), registrationBudget.take(1, now: mono) else {
                return drop(.registrationRateLimited)
            }
        } else {
            guard registrationLimiter.allow(observed, now: mono) else { return drop(.registrationRateLimited) }
            if mono < cookiesRequiredUntil || !budgetAboveHalf(now: mono) {
                // Smaller than the register frame, and sent at most at the per-address rate:
                // no use to someone reflecting at a spoofed address.
                counters.cookiesSent &+= 1
                return reply(CookieFrame(nonce: Array(nonce), cookie: cookies.cookie(for: observed, now: mono)).encode(), into: buffer)
            }
            guard registrationBudget.take(1, now: mono) else { return drop(.registrationRateLimited) }
        }
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
        let existing = sessions.session(forKey: accepted.clientKey)
        if existing == nil, sessions.count >= configuration.maxConnections {
            return refuse(.relayFull, code: .relayFull, into: buffer, now: now)
        }
        // Keys cost nothing to make: an open relay shares its registrations out by source, or a
        // few addresses would fill it. A relay with a key list serves only members.
        if policy.isOpen, existing.map({ SourceNetwork($0.binding.address) != SourceNetwork(source.address) }) ?? true,
           sessions.count(from: source.address) >= configuration.maxSessionsPerAddress {
            return refuse(.sessionsPerAddress, code: .relayFull, into: buffer, now: now)
        }
        var id = RelayBox.randomNonZeroUInt64()
        while sessions.slot(forSession: id) != nil { id = RelayBox.randomNonZeroUInt64() }
        sessions.register(key: accepted.clientKey, id: id, binding: source, nowMillis: now.wallMillis)
        channels.forgetLearned(owner: PeerID(accepted.clientKey))
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
        guard registrationLimiter.allow(observed, now: now.monotonicNanos), budgetAboveHalf(now: now.monotonicNanos),
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
    /// Channels go with them, and so do channels unused for as long or whose owner left.
    public mutating func expireIdle(now: RelayInstant) {
        let cutoff = now.wallMillis > RelayWire.sessionIdleMillis ? now.wallMillis - RelayWire.sessionIdleMillis : 0
        sessions.removeAll(idleBefore: cutoff)
        let sessions = self.sessions
        for channel in channels.removeAll(where: { $0.lastUseMillis < cutoff || sessions.slot(forPeer: $0.owner) == nil }) {
            channelPorts?.close(channel.descriptor)
        }
    }

    /// Closes every channel (the service is stopping).
    public mutating func closeChannels() {
        for channel in channels.removeAll(where: { _ in true }) { channelPorts?.close(channel.descriptor) }
    }

    /// Whether a registration is bound to TCP connection `connection`.
    public func hasSession(onConnection connection: UInt64) -> Bool {
        sessions.slots.contains { session in
            guard session.id != 0, case .tcp(connection, _) = session.binding else { return false }
            return true
        }
    }

    public mutating func tcpConnectionOpened() { counters.tcpOpen += 1 }

    /// A TCP connection closed, by the relay for `reason` or (nil) by its client: its
    /// registration goes with it.
    public mutating func tcpConnectionClosed(_ connection: UInt64, reason: RelayCounters.TCPClose?) {
        counters.tcpOpen -= 1
        if let reason { counters.tcpClosed[reason.rawValue] &+= 1 }
        sessions.removeAll(idleBefore: 0) {
            if case .tcp(connection, _) = $0.binding { return true }
            return false
        }
    }

    /// A TCP connection refused at accept.
    public mutating func countTCPRefused(_ reason: RelayCounters.TCPClose) { counters.tcpClosed[reason.rawValue] &+= 1 }

    /// Counts a TCP stream whose length prefix was out of bounds.
    public mutating func countMalformed() { counters.drop(.malformed) }

    /// Counts a frame not queued to a TCP connection whose unread output is at its bound.
    public mutating func countSlowReaderDrop() { counters.drop(.slowReader) }

    /// Counts a frame that was decided on but could not be sent.
    public mutating func countSendFailure() { counters.drop(.sendFailed) }

    /// Whether more than half the registration budget is left: below that, only register frames
    /// with a valid cookie may spend it, so that a flood from addresses that do not answer
    /// cannot leave nothing for clients that do.
    private mutating func budgetAboveHalf(now: UInt64) -> Bool {
        registrationBudget.available(now: now) * 2 > registrationBudget.burst
    }

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
