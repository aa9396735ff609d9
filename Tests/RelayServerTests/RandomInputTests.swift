import Foundation
import RelayWire
import RelayServer
import RelayClient
import Testing
import WireGuard

/// Random and mutated frames through every decoder, the registration handler, the relay state
/// and the client: nothing may crash, every answer must fit the buffer, nothing may be forwarded
/// except to a registered binding, and whatever decodes must encode back to the same bytes.
/// FORMNET_RELAY_FUZZ_ITERATIONS sets the number of inputs (default 20 000, kept small for CI);
/// FORMNET_RELAY_FUZZ_SEED replays a run.
@Suite struct RandomInputTests {
    /// SplitMix64: tiny, fast and reproducible from its seed.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static var iterations: Int { ProcessInfo.processInfo.environment["FORMNET_RELAY_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 20_000 }
    static var seed: UInt64 { ProcessInfo.processInfo.environment["FORMNET_RELAY_FUZZ_SEED"].flatMap(UInt64.init) ?? 0x5EED }

    /// One valid frame of every type, the starting points for mutation.
    static func corpus(alice: RelayClientProtocol, now: UInt64) -> [[UInt8]] {
        var registering = alice
        let relay = RegistrationHandler(relayKey: Fixture.relayKey)
        return [
            registering.makeRegister(nowMillis: now),
            relay.registeredFrame(for: alice.clientPublicKey, sessionID: 1, echoedTimestamp: now, observedAddress: Fixture.aliceAddress),
            alice.wrap([UInt8](repeating: 7, count: 100), to: Fixture.bobKey.publicKey, nowMillis: now),
            PeerUnknownFrame(peer: Fixture.keyA).encode(),
            EchoFrame.ping(sessionID: alice.sessionID, echo: 1).encode(),
            EchoFrame.pong(sessionID: 0, echo: 1).encode(),
            ErrorFrame(code: .relayFull, relayClockMillis: now).encode(),
            PaddedRequestFrame.infoRequest(echo: 1).encode(),
            InfoResponseFrame(echo: 1, relayKey: Fixture.keyA, capacity: 1, load: 0, location: .unknown, version: "v", endpoints: [Fixture.bobAddress]).encode(),
            PaddedRequestFrame.discoveryQuery(echo: 1).encode(),
            DiscoveryResponseFrame(echo: 1, relays: [KnownRelay(key: Fixture.keyB, endpoint: Fixture.aliceAddress, location: .unknown)]).encode(),
            AnnounceFrame(announcerKey: Fixture.keyA, nonce: Fixture.nonce, sealedPayload: [UInt8](repeating: 0, count: 51)).encode(),
            alice.makeChannelRequest(to: Fixture.bobKey.publicKey, nowMillis: now),
            alice.makeChannelClose(to: Fixture.bobKey.publicKey, nowMillis: now),
            ChannelGrantFrame(peer: Fixture.bobKey.publicKey, sessionID: alice.sessionID, port: 40_000).encode(),
            WireGuardPacket.initiation,
            WireGuardPacket.transport(100),
        ]
    }

    static func mutate(_ frame: [UInt8], _ rng: inout SeededGenerator) -> [UInt8] {
        var bytes = frame
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            switch Int.random(in: 0..<5, using: &rng) {
            case 0 where !bytes.isEmpty: bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            case 1 where !bytes.isEmpty: bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng))
            case 2: bytes += (0..<Int.random(in: 1...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 3 where bytes.count > 2: bytes[1] = UInt8.random(in: 0...UInt8(FrameType.allCases.count + 1), using: &rng)
            default: if bytes.count > 10 { bytes[Int.random(in: 2..<bytes.count, using: &rng)] = [0, 0xFF, 0x7F, 0x80].randomElement(using: &rng) ?? 0 }
            }
        }
        return Array(bytes.prefix(RelayWire.maxFrame))
    }

    @Test func noInputCrashesOrEscapesItsBounds() {
        var rng = SeededGenerator(state: Self.seed)
        let now = Fixture.now
        let ports = FakeChannelPorts()
        var configuration = RelayConfiguration()
        configuration.cookiesAfterStartMillis = 0
        var state = RelayState(relayKey: Fixture.relayKey, configuration: configuration, policy: .open, now: now, channelPorts: ports)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: RelayWire.maxFrame, alignment: 16)
        defer { buffer.deallocate() }

        func handle(_ frame: [UInt8], from address: RelayAddress) -> RelayOutcome {
            frame.withUnsafeBytes { buffer.copyMemory(from: $0) }
            return state.handle(buffer, length: frame.count, from: .udp(address), observed: address, now: now)
        }
        func register(_ client: inout RelayClientProtocol, from address: RelayAddress) -> Bool {
            guard case .reply(let n) = handle(client.makeRegister(nowMillis: now.wallMillis), from: address) else { return false }
            let reply = Array(buffer[0..<n])
            return reply.withUnsafeBytes { client.receive($0, nowMillis: now.wallMillis) } != .ignored
        }
        var alice = RelayClientProtocol(clientKey: Fixture.aliceKey, relayKey: Fixture.relayKey.publicKey)
        var bob = RelayClientProtocol(clientKey: Fixture.bobKey, relayKey: Fixture.relayKey.publicKey)
        #expect(register(&alice, from: Fixture.aliceAddress) && register(&bob, from: Fixture.bobAddress))
        let registered: Set<Binding> = [.udp(Fixture.aliceAddress), .udp(Fixture.bobAddress)]
        // Both hold channels for each other, and bob's has learned his WireGuard's address.
        let bobWireGuard = RelayAddress(high: Fixture.bobAddress.high, low: Fixture.bobAddress.low, port: 51_820)
        #expect(handle(alice.makeChannelRequest(to: bob.clientPublicKey, nowMillis: now.wallMillis), from: Fixture.aliceAddress) != .drop(.malformed))
        #expect(handle(bob.makeChannelRequest(to: alice.clientPublicKey, nowMillis: now.wallMillis), from: Fixture.bobAddress) != .drop(.malformed))
        #expect(ports.opened == [100, 101])
        WireGuardPacket.initiation.withUnsafeBytes { buffer.baseAddress!.advanced(by: DataFrameHeader.length).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        #expect(state.handleChannelPacket(buffer, length: WireGuardPacket.initiation.count, descriptor: 101, from: bobWireGuard, now: now)
            == .forward(to: .udp(Fixture.aliceAddress), length: DataFrameHeader.length + WireGuardPacket.initiation.count))
        var forwarded = 1
        let corpus = Self.corpus(alice: alice, now: now.wallMillis)
        var handler = RegistrationHandler(relayKey: Fixture.relayKey)

        for _ in 0..<Self.iterations {
            let input: [UInt8] = Bool.random(using: &rng)
                ? Self.mutate(corpus.randomElement(using: &rng) ?? [], &rng)
                : [1, UInt8.random(in: 0...UInt8(FrameType.allCases.count + 1), using: &rng)] + (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            input.withUnsafeBytes { raw in
                _ = FrameType.classify(raw)
                Self.expectRoundTrip(raw, input)
                _ = handler.verifyRegister(raw, nowMillis: now.wallMillis)
                _ = handler.verifyAnnounce(raw, nowMillis: now.wallMillis)
                _ = bob.receive(raw, nowMillis: now.wallMillis)
            }
            let source = Bool.random(using: &rng) ? Fixture.aliceAddress : RelayAddress(high: 0, low: rng.next(), port: UInt16.random(in: 0...UInt16.max, using: &rng))
            switch handle(input, from: source) {
            case .reply(let n): #expect(n > 0 && n <= max(input.count, RegisteredFrame.length))
            case .forward(let to, let n) where n == ChannelGrantFrame.length:
                // Alice released her channel (a mutated request): bob hears his for her is closed.
                #expect(input.count == ChannelRequestFrame.length && input[1] == FrameType.channelRelease.rawValue)
                #expect(to == .udp(Fixture.bobAddress))
                #expect(buffer.withUnsafeBytes { ChannelGrantFrame.decode(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    == ChannelGrantFrame(peer: alice.clientPublicKey, sessionID: state.sessions.session(forKey: bob.clientPublicKey)?.id ?? 0, port: 0))
            case .forward(let to, let n):
                #expect(registered.contains(to) && n == input.count)
                forwarded += 1
            case .forwardRaw(let socket, let to, let n):
                #expect(socket == 101 && to == bobWireGuard && n == input.count - DataFrameHeader.length)
                forwarded += 1
            case .drop, .consumed: break
            }
            // The same bytes as a packet on a channel: only WireGuard-shaped packets from the
            // owner's address go anywhere, and only to the peer's binding or learned address.
            let packet = Array(input.prefix(RelayWire.maxPayload))
            packet.withUnsafeBytes { buffer.baseAddress!.advanced(by: DataFrameHeader.length).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            let channel: Int32 = Bool.random(using: &rng) ? 100 : -5
            switch state.handleChannelPacket(buffer, length: packet.count, descriptor: channel, from: source, now: now) {
            case .forwardRaw(let socket, let to, let n):
                #expect(channel == 100 && source.high == Fixture.aliceAddress.high && source.low == Fixture.aliceAddress.low)
                #expect(socket == 101 && to == bobWireGuard && n == packet.count)
                #expect(Array(buffer[DataFrameHeader.length..<DataFrameHeader.length + n]) == packet)
                forwarded += 1
            case .forward(let to, let n) where n == ChannelGrantFrame.length:
                // From another address than the owner's: the owner's agent hears the channel is withdrawn.
                #expect(channel == 100 && to == .udp(Fixture.aliceAddress) && source.low != Fixture.aliceAddress.low)
                #expect(buffer.withUnsafeBytes { ChannelGrantFrame.decode(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }?.port == 0)
            case .forward(let to, let n):
                #expect(channel == 100 && registered.contains(to) && n == DataFrameHeader.length + packet.count)
                forwarded += 1
            case .reply: Issue.record("a channel packet got a reply")
            case .drop, .consumed: break
            }
        }
        let counted = state.counters.framesReceived.reduce(0, +)
        #expect(counted <= UInt64(Self.iterations + 4))
        #expect(state.counters.framesForwarded == UInt64(forwarded))
    }

    /// Frames with one exact layout must re-encode to the bytes they were decoded from.
    static func expectRoundTrip(_ raw: UnsafeRawBufferPointer, _ input: [UInt8]) {
        if let f = RegisterFrame.decode(raw) { #expect(f.encode() == input) }
        if let f = RegisteredFrame.decode(raw) { #expect(f.encode() == input) }
        if let f = PeerUnknownFrame.decode(raw) { #expect(f.encode() == input) }
        if let f = EchoFrame.decode(raw, as: .ping) { #expect(f.encode() == input) }
        if let f = EchoFrame.decode(raw, as: .pong) { #expect(f.encode() == input) }
        if let f = ErrorFrame.decode(raw) { #expect(f.encode() == input) }
        if let f = InfoResponseFrame.decode(raw), f.version.utf8.count == Int(input[58]) { #expect(f.encode() == input) }
        if let f = DiscoveryResponseFrame.decode(raw) { #expect(f.encode() == input) }
        if let f = AnnounceFrame.decode(raw) { #expect(f.encode() == input) }
        if let f = ChannelRequestFrame.decode(raw) { #expect(f.encode() == input) }
        if let f = ChannelGrantFrame.decode(raw) { #expect(f.encode() == input) }
        if let (header, payload) = DataFrameHeader.unwrap(raw) { #expect(header.wrap(input[payload]) == input) }
    }
}
