import Foundation
import RelayWire
import RelayServer
import RelayClient
import Testing
import WireGuard

/// Channels: the layouts of their two frames, what a channel port accepts, and where the relay
/// sends each packet — raw out of the peer's channel, or as a data frame to its registration.
@Suite struct ChannelTests {
    typealias Harness = RelayStateTests.Harness
    let alice = Fixture.aliceKey, bob = Fixture.bobKey
    /// Where alice's and bob's WireGuard send from: their agents' addresses, other ports.
    static let aliceWireGuard = RelayAddress(high: Fixture.aliceAddress.high, low: Fixture.aliceAddress.low, port: 51_820)
    static let bobWireGuard = RelayAddress(high: Fixture.bobAddress.high, low: Fixture.bobAddress.low, port: 51_821)

    @Test func requestAndGrantLayouts() {
        let request = ChannelRequestFrame(peer: Fixture.keyA, sessionID: 0x0102_0304_0506_0708, timestamp: 0x1122_3344_5566_7788)
        let bytes = request.encode()
        #expect(bytes.count == 50)
        #expect(Array(bytes[0..<2]) == [0x01, 0x0D])
        #expect(Array(bytes[2..<34]) == Array(0..<32).map { UInt8($0) })
        #expect(Array(bytes[34..<50]) == Fixture.bytes("0102030405060708 1122334455667788"))
        #expect(bytes.withUnsafeBytes { ChannelRequestFrame.decode($0) } == request)
        #expect(Array(bytes.dropLast()).withUnsafeBytes { ChannelRequestFrame.decode($0) } == nil)

        let grant = ChannelGrantFrame(peer: Fixture.keyB, sessionID: 9, port: 0xC350)
        let granted = grant.encode()
        #expect(granted.count == 44)
        #expect(Array(granted[0..<2]) == [0x01, 0x0E])
        #expect(Array(granted[34..<44]) == Fixture.bytes("0000000000000009 C350"))
        #expect(granted.withUnsafeBytes { ChannelGrantFrame.decode($0) } == grant)
        // The grant is smaller than the request: no amplification toward a spoofed source.
        #expect(granted.count < bytes.count)
        var wrongType = granted
        wrongType[1] = 0x0D
        #expect(wrongType.withUnsafeBytes { ChannelGrantFrame.decode($0) } == nil)

        let release = ChannelRequestFrame(peer: Fixture.keyA, sessionID: 0x0102_0304_0506_0708, timestamp: 0x1122_3344_5566_7788, kind: .release)
        let released = release.encode()
        #expect(Array(released[0..<2]) == [0x01, 0x0F])
        #expect(Array(released[2...]) == Array(bytes[2...]))
        #expect(released.withUnsafeBytes { ChannelRequestFrame.decode($0) } == release)
        #expect(released.withUnsafeBytes { ChannelGrantFrame.decode($0) } == nil)

        let close = ChannelRequestFrame(peer: Fixture.keyA, sessionID: 0x0102_0304_0506_0708, timestamp: 0x1122_3344_5566_7788, kind: .close)
        let closed = close.encode()
        #expect(Array(closed[0..<2]) == [0x01, 0x11])
        #expect(Array(closed[2...]) == Array(bytes[2...]))
        #expect(closed.withUnsafeBytes { ChannelRequestFrame.decode($0) } == close)
        var unknownType = closed
        unknownType[1] = 0x12
        #expect(unknownType.withUnsafeBytes { ChannelRequestFrame.decode($0) } == nil)
    }

    @Test func wireGuardShapes() {
        func plausible(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { WireGuardMessageShape.isPlausible($0) } }
        #expect(plausible(WireGuardPacket.initiation))
        #expect(!plausible(Array(WireGuardPacket.initiation.dropLast())))
        #expect(plausible([2, 0, 0, 0] + [UInt8](repeating: 1, count: 88)))
        #expect(!plausible([2, 0, 0, 0] + [UInt8](repeating: 1, count: 89)))
        #expect(plausible([3, 0, 0, 0] + [UInt8](repeating: 1, count: 60)))
        #expect(plausible(WireGuardPacket.transport(0)))
        #expect(plausible(WireGuardPacket.transport(1_400)))
        #expect(!plausible(Array(WireGuardPacket.transport(0).dropLast())))
        #expect(!plausible([4, 0, 1, 0] + [UInt8](repeating: 1, count: 60)))
        #expect(!plausible([5, 0, 0, 0] + [UInt8](repeating: 1, count: 60)))
        #expect(!plausible([4, 0, 0, 0] + [UInt8](repeating: 1, count: RelayWire.maxPayload)))
    }

    /// Asks for `owner`'s channel to `peer` and returns the granted port.
    func requestChannel(_ h: Harness, _ client: RelayClientProtocol, to peer: PublicKey, from address: RelayAddress) -> UInt16? {
        guard h.send(client.makeChannelRequest(to: peer, nowMillis: h.now.wallMillis), from: address) == .reply(length: 44) else { return nil }
        return h.lastReply.withUnsafeBytes { ChannelGrantFrame.decode($0) }?.port
    }

    static let aliceIndex: UInt32 = 0xA1A1_0001
    static let bobIndex: UInt32 = 0xB0B0_0001

    /// Alice and bob registered, each with a channel for the other (100 and 101), a WireGuard
    /// handshake through them (alice's initiation, bob's response naming its index), and one
    /// transport packet each way: both channels have learned their owner's WireGuard, so
    /// packets go raw both ways, and the relay knows both WireGuards' indices.
    @discardableResult
    func pairWithChannels(_ h: Harness) -> (alice: RelayClientProtocol, bob: RelayClientProtocol) {
        let a = h.register(alice, from: Fixture.aliceAddress)
        let b = h.register(bob, from: Fixture.bobAddress)
        _ = requestChannel(h, a, to: bob.publicKey, from: Fixture.aliceAddress)
        _ = requestChannel(h, b, to: alice.publicKey, from: Fixture.bobAddress)
        _ = channelPacket(h, WireGuardPacket.initiation(sender: Self.aliceIndex), on: 100, from: Self.aliceWireGuard)
        _ = channelPacket(h, WireGuardPacket.response(sender: Self.bobIndex, receiver: Self.aliceIndex), on: 101, from: Self.bobWireGuard)
        _ = channelPacket(h, WireGuardPacket.transport(receiver: Self.aliceIndex, 0), on: 101, from: Self.bobWireGuard)
        _ = channelPacket(h, WireGuardPacket.transport(receiver: Self.bobIndex, 0), on: 100, from: Self.aliceWireGuard)
        return (a, b)
    }

    /// The channels the status endpoint's /peers/KEY lists for `owner`: "peer port learned-address".
    func reportedChannels(_ h: Harness, of owner: PublicKey) -> [String]? {
        guard let body = RelayStatusReport.peer(owner, in: h.state, nowMillis: h.now.wallMillis),
              let peer = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let channels = peer["channels"] as? [[String: Any]] else { return nil }
        return channels.map { "\($0["peer"] as? String ?? "?") \($0["port"] as? Int ?? 0) \($0["learned_address"] as? String ?? "-")" }
    }

    func channelPacket(_ h: Harness, _ packet: [UInt8], on descriptor: Int32, from source: RelayAddress) -> RelayOutcome {
        packet.withUnsafeBytes { h.buffer.baseAddress!.advanced(by: DataFrameHeader.length).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let outcome = h.state.handleChannelPacket(h.buffer, length: packet.count, descriptor: descriptor, from: source, now: h.now)
        switch outcome {
        case .forward(_, let n): h.lastReply = Array(h.buffer[0..<n])
        case .forwardRaw(_, _, let n): h.lastReply = Array(h.buffer[DataFrameHeader.length..<DataFrameHeader.length + n])
        default: h.lastReply = []
        }
        return outcome
    }

    @Test func grantsOnePortPerPairAndRenewsIt() {
        let ports = FakeChannelPorts()
        let h = Harness(channelPorts: ports)
        let a = h.register(alice, from: Fixture.aliceAddress)
        _ = h.register(bob, from: Fixture.bobAddress)
        #expect(requestChannel(h, a, to: bob.publicKey, from: Fixture.aliceAddress) == 40_000)
        #expect(requestChannel(h, a, to: bob.publicKey, from: Fixture.aliceAddress) == 40_000)
        #expect(requestChannel(h, a, to: Fixture.keyA, from: Fixture.aliceAddress) == 40_001)
        #expect(ports.opened == [100, 101])
        #expect(h.state.channels.count == 2)
        // Only from the registration's own address and with its session.
        #expect(h.send(a.makeChannelRequest(to: bob.publicKey, nowMillis: h.now.wallMillis), from: Fixture.bobAddress) == .drop(.spoofedSession))
        #expect(h.send(a.makeChannelRequest(to: alice.publicKey, nowMillis: h.now.wallMillis), from: Fixture.aliceAddress) == .drop(.selfDestination))
        var stale = ChannelRequestFrame(peer: bob.publicKey, sessionID: a.sessionID, timestamp: h.now.wallMillis - 31_000).encode()
        #expect(h.send(stale, from: Fixture.aliceAddress) == .drop(.staleTimestamp))
        stale = ChannelRequestFrame(peer: bob.publicKey, sessionID: 12_345, timestamp: h.now.wallMillis).encode()
        #expect(h.send(stale, from: Fixture.aliceAddress) == .drop(.unknownSession))
    }

    @Test func noChannelOverTCPWhenFullOrWithoutPorts() {
        let ports = FakeChannelPorts()
        let h = Harness(configure: { $0.maxChannels = 1 }, channelPorts: ports)
        let tcpAddress = RelayAddress(Endpoint("192.0.2.50:3000")!)
        let a = h.register(alice, from: .tcp(connection: 7, peer: tcpAddress), observed: tcpAddress)
        let b = h.register(bob, from: Fixture.bobAddress)
        #expect(h.send(a.makeChannelRequest(to: bob.publicKey, nowMillis: h.now.wallMillis), from: .tcp(connection: 7, peer: tcpAddress),
                       observed: tcpAddress) == .reply(length: 44))
        #expect(h.lastReply.withUnsafeBytes { ChannelGrantFrame.decode($0) }?.port == 0)
        #expect(requestChannel(h, b, to: alice.publicKey, from: Fixture.bobAddress) == 40_000)
        #expect(requestChannel(h, b, to: Fixture.keyA, from: Fixture.bobAddress) == 0)
        #expect(h.drops(.channelsFull) == 1)
        let without = Harness()
        let c = without.register(bob, from: Fixture.bobAddress)
        #expect(requestChannel(without, c, to: alice.publicKey, from: Fixture.bobAddress) == 0)
    }

    @Test func aClientHoldsNoMoreChannelsThanItMayHaveDestinations() {
        let ports = FakeChannelPorts()
        let h = Harness(configure: { $0.maxTunnelsPerDevice = 3 }, channelPorts: ports)
        let a = h.register(alice, from: Fixture.aliceAddress)
        let b = h.register(bob, from: Fixture.bobAddress)
        let madeUp = (0..<5).map { _ in PrivateKey.generate().publicKey }
        let granted = madeUp.map { requestChannel(h, a, to: $0, from: Fixture.aliceAddress) }
        #expect(granted == [40_000, 40_001, 40_002, 0, 0])
        #expect(h.drops(.channelsPerClient) == 2)
        #expect(h.state.channels.count(owner: PeerID(alice.publicKey)) == 3)
        // Another client still gets one.
        #expect(requestChannel(h, b, to: alice.publicKey, from: Fixture.bobAddress) == 40_003)
        // A released channel makes room again.
        _ = h.send(a.makeChannelRelease(to: madeUp[0], nowMillis: h.now.wallMillis), from: Fixture.aliceAddress)
        #expect(h.state.channels.count(owner: PeerID(alice.publicKey)) == 2)
        #expect(requestChannel(h, a, to: madeUp[3], from: Fixture.aliceAddress) == 40_004)
    }

    /// A stranger's packets go nowhere, and the owner is told nothing: a stranger cannot take a
    /// channel away, used or not.
    @Test func aStrangerIsForwardedNothing() {
        let h = Harness(channelPorts: FakeChannelPorts())
        let a = h.register(alice, from: Fixture.aliceAddress)
        _ = h.register(bob, from: Fixture.bobAddress)
        #expect(requestChannel(h, a, to: bob.publicKey, from: Fixture.aliceAddress) == 40_000)
        let stranger = RelayAddress(Endpoint("203.0.113.9:51820")!)
        for packet in [WireGuardPacket.initiation, WireGuardPacket.response(sender: 1, receiver: 2), WireGuardPacket.transport(0)] {
            #expect(channelPacket(h, packet, on: 100, from: stranger) == .drop(.channelForbidden))
        }
        #expect(channelPacket(h, [9, 9, 9, 9] + [UInt8](repeating: 0, count: 60), on: 100, from: stranger) == .drop(.notWireGuard))
        #expect(channelPacket(h, [9, 9, 9, 9] + [UInt8](repeating: 0, count: 60), on: 100, from: Self.aliceWireGuard) == .drop(.notWireGuard))
        #expect(channelPacket(h, WireGuardPacket.initiation, on: 555, from: Self.aliceWireGuard) == .drop(.unknownSession))
        #expect(h.drops(.channelForbidden) == 3)
        #expect(h.state.channels[100]?.learned == nil)
        // From alice's address, another port (her WireGuard's): bob has no channel, so a data
        // frame; the initiation's source waits for bob's response before it is learned.
        let outcome = channelPacket(h, WireGuardPacket.initiation(sender: Self.aliceIndex), on: 100, from: Self.aliceWireGuard)
        #expect(outcome == .forward(to: .udp(Fixture.bobAddress), length: DataFrameHeader.length + 148))
        let frame = h.lastReply.withUnsafeBytes { DataFrameHeader.unwrap($0) }
        #expect(frame?.header.peer == alice.publicKey)
        #expect(frame.map { Array(h.lastReply[$0.payload]) } == WireGuardPacket.initiation(sender: Self.aliceIndex))
        #expect(h.state.channels[100]?.learned == nil)
        #expect(h.state.channels[100]?.pending == RelayChannel.PendingInitiation(source: Self.aliceWireGuard, index: Self.aliceIndex))
        // Nor once a source is learned.
        pairWithChannels(h)
        h.now.wallMillis += RelayWire.channelNoticeIntervalMillis
        #expect(channelPacket(h, WireGuardPacket.initiation, on: 100, from: stranger) == .drop(.channelForbidden))
    }

    /// Behind one NAT address, another host sends into alice's channel from her address: it is
    /// forwarded toward bob (whose WireGuard drops what it did not make), but bob's packets go
    /// only to the source that named an index of bob's WireGuard, which only alice's has seen.
    @Test func aCoTenantOnTheOwnersAddressReceivesNothing() {
        let h = Harness(channelPorts: FakeChannelPorts())
        pairWithChannels(h)
        let coTenant = RelayAddress(high: Fixture.aliceAddress.high, low: Fixture.aliceAddress.low, port: 40_404)
        for packet in [WireGuardPacket.initiation(sender: 0xEEEE), WireGuardPacket.transport(receiver: 0xEEEE, 0)] {
            #expect(channelPacket(h, packet, on: 100, from: coTenant) == .forwardRaw(socket: 101, to: Self.bobWireGuard, length: packet.count))
            #expect(h.state.channels[100]?.learned == Self.aliceWireGuard)
        }
        // Bob's response to the co-tenant's initiation would name its index; bob's WireGuard
        // never makes one, and his traffic still goes to alice's WireGuard.
        #expect(channelPacket(h, WireGuardPacket.transport(receiver: Self.aliceIndex, 16), on: 101, from: Self.bobWireGuard)
            == .forwardRaw(socket: 100, to: Self.aliceWireGuard, length: 48))
        // Alice's WireGuard moving to a new port proves itself with bob's index at once.
        let rebound = RelayAddress(high: Fixture.aliceAddress.high, low: Fixture.aliceAddress.low, port: 51_999)
        #expect(channelPacket(h, WireGuardPacket.transport(receiver: Self.bobIndex, 0), on: 100, from: rebound)
            == .forwardRaw(socket: 101, to: Self.bobWireGuard, length: 32))
        #expect(h.state.channels[100]?.learned == rebound)
        // So does it from another address altogether (a second NAT, a proxy).
        let elsewhere = RelayAddress(Endpoint("192.0.2.77:4000")!)
        #expect(channelPacket(h, WireGuardPacket.transport(receiver: Self.bobIndex, 0), on: 100, from: elsewhere)
            == .forwardRaw(socket: 101, to: Self.bobWireGuard, length: 32))
        #expect(h.state.channels[100]?.learned == elsewhere)
    }

    /// An index is 32 random bits: guessed at the frame rate, one would be found within hours.
    /// Ten sources a second may have theirs checked per channel.
    @Test func indexGuessesAreBoundedPerChannel() {
        let h = Harness(channelPorts: FakeChannelPorts())
        pairWithChannels(h)
        let guesser = RelayAddress(Endpoint("192.0.2.66:1000")!)
        for guess in 0..<UInt32(RelayChannel.proofsPerSecond) {
            #expect(channelPacket(h, WireGuardPacket.transport(receiver: guess, 0), on: 100, from: guesser) == .drop(.channelForbidden))
        }
        // The right index in the same second is not even checked.
        #expect(channelPacket(h, WireGuardPacket.transport(receiver: Self.bobIndex, 0), on: 100, from: guesser) == .drop(.channelForbidden))
        #expect(h.state.channels[100]?.learned == Self.aliceWireGuard)
        h.now.wallMillis += 1_000
        #expect(channelPacket(h, WireGuardPacket.transport(receiver: Self.bobIndex, 0), on: 100, from: guesser)
            == .forwardRaw(socket: 101, to: Self.bobWireGuard, length: 32))
        #expect(h.state.channels[100]?.learned == guesser)
    }

    @Test func packetsGoRawOnceBothWireGuardsUseTheirChannels() {
        let h = Harness(channelPorts: FakeChannelPorts())
        let a = h.register(alice, from: Fixture.aliceAddress)
        let b = h.register(bob, from: Fixture.bobAddress)
        #expect(requestChannel(h, a, to: bob.publicKey, from: Fixture.aliceAddress) == 40_000)
        #expect(requestChannel(h, b, to: alice.publicKey, from: Fixture.bobAddress) == 40_001)
        #expect(channelPacket(h, WireGuardPacket.initiation(sender: Self.aliceIndex), on: 100, from: Self.aliceWireGuard)
            == .forward(to: .udp(Fixture.bobAddress), length: DataFrameHeader.length + 148))
        // Bob's WireGuard answers on its channel, naming alice's index: the initiation's source
        // is alice's WireGuard, and the response goes there raw.
        let response = WireGuardPacket.response(sender: Self.bobIndex, receiver: Self.aliceIndex)
        #expect(channelPacket(h, response, on: 101, from: Self.bobWireGuard) == .forwardRaw(socket: 100, to: Self.aliceWireGuard, length: 92))
        #expect(h.lastReply == response)
        #expect(h.state.channels[100]?.learned == Self.aliceWireGuard)
        // Bob's source proves itself with its next packet, which names alice's index.
        #expect(h.state.channels[101]?.learned == nil)
        #expect(channelPacket(h, WireGuardPacket.transport(receiver: Self.aliceIndex, 0), on: 101, from: Self.bobWireGuard)
            == .forwardRaw(socket: 100, to: Self.aliceWireGuard, length: 32))
        #expect(h.state.channels[101]?.learned == Self.bobWireGuard)
        #expect(channelPacket(h, WireGuardPacket.transport(receiver: Self.bobIndex, 64), on: 100, from: Self.aliceWireGuard)
            == .forwardRaw(socket: 101, to: Self.bobWireGuard, length: 96))
        // A data frame from alice's agent (its proxy) goes out of bob's channel without its header.
        let framed = a.wrap(WireGuardPacket.transport(receiver: Self.bobIndex, 16), to: bob.publicKey, nowMillis: h.now.wallMillis)
        #expect(h.send(framed, from: Fixture.aliceAddress) == .forwardRaw(socket: 101, to: Self.bobWireGuard, length: 48))
        #expect(h.lastReply == WireGuardPacket.transport(receiver: Self.bobIndex, 16))
        #expect(h.state.counters.channelPacketsSent == 4)
        #expect(h.state.counters.framesForwarded == 5)
    }

    /// A data frame from a member for its peer says its WireGuard sends through its agent, not its
    /// channel: the peer's packets go to it as data frames until its WireGuard uses the channel
    /// again, rather than raw to an address its NAT may have forgotten.
    @Test func aDataFrameFromTheOwnerStopsRawDeliveryToItsChannel() {
        let h = Harness(channelPorts: FakeChannelPorts())
        let (a, _) = pairWithChannels(h)
        let fromBob = WireGuardPacket.transport(receiver: Self.aliceIndex, 16)
        #expect(channelPacket(h, fromBob, on: 101, from: Self.bobWireGuard) == .forwardRaw(socket: 100, to: Self.aliceWireGuard, length: 48))
        let framed = a.wrap(WireGuardPacket.transport(receiver: Self.bobIndex, 16), to: bob.publicKey, nowMillis: h.now.wallMillis)
        #expect(h.send(framed, from: Fixture.aliceAddress) == .forwardRaw(socket: 101, to: Self.bobWireGuard, length: 48))
        #expect(channelPacket(h, fromBob, on: 101, from: Self.bobWireGuard)
            == .forward(to: .udp(Fixture.aliceAddress), length: DataFrameHeader.length + 48))
        // Her WireGuard on the channel again: raw again.
        _ = channelPacket(h, WireGuardPacket.transport(receiver: Self.bobIndex, 0), on: 100, from: Self.aliceWireGuard)
        #expect(channelPacket(h, fromBob, on: 101, from: Self.bobWireGuard) == .forwardRaw(socket: 100, to: Self.aliceWireGuard, length: 48))
    }

    /// A co-tenant's packets, forwarded from the owner's address, teach the relay no index: they
    /// cannot be used to prove a source on the peer's channel.
    @Test func onlyAuthenticatedPacketsTeachIndices() {
        let h = Harness(channelPorts: FakeChannelPorts())
        let a = h.register(alice, from: Fixture.aliceAddress)
        let b = h.register(bob, from: Fixture.bobAddress)
        _ = requestChannel(h, a, to: bob.publicKey, from: Fixture.aliceAddress)
        _ = requestChannel(h, b, to: alice.publicKey, from: Fixture.bobAddress)
        let coTenant = RelayAddress(high: Fixture.aliceAddress.high, low: Fixture.aliceAddress.low, port: 40_404)
        _ = channelPacket(h, WireGuardPacket.initiation(sender: 0xEEEE), on: 100, from: coTenant)
        _ = channelPacket(h, WireGuardPacket.transport(receiver: 0xDDDD, 0), on: 100, from: coTenant)
        let accomplice = RelayAddress(high: Fixture.bobAddress.high, low: Fixture.bobAddress.low, port: 40_404)
        _ = channelPacket(h, WireGuardPacket.transport(receiver: 0xEEEE, 0), on: 101, from: accomplice)
        #expect(h.state.channels[101]?.learned == nil)
        #expect(h.state.channels[100]?.learned == nil)
    }

    /// A handshake that went through data frames (the channels came later) still gives the relay
    /// the indices: the first transport packet on the channel proves its source.
    @Test func indicesSeenInDataFramesProveAChannelsSource() {
        let h = Harness(channelPorts: FakeChannelPorts())
        let a = h.register(alice, from: Fixture.aliceAddress)
        let b = h.register(bob, from: Fixture.bobAddress)
        _ = h.send(b.wrap(WireGuardPacket.initiation(sender: Self.bobIndex), to: alice.publicKey, nowMillis: h.now.wallMillis), from: Fixture.bobAddress)
        _ = requestChannel(h, a, to: bob.publicKey, from: Fixture.aliceAddress)
        let elsewhere = RelayAddress(Endpoint("192.0.2.77:4000")!)
        #expect(channelPacket(h, WireGuardPacket.transport(receiver: Self.bobIndex + 1, 0), on: 100, from: elsewhere) == .drop(.channelForbidden))
        #expect(channelPacket(h, WireGuardPacket.transport(receiver: Self.bobIndex, 0), on: 100, from: elsewhere)
            == .forward(to: .udp(Fixture.bobAddress), length: DataFrameHeader.length + 32))
        #expect(h.state.channels[100]?.learned == elsewhere)
    }

    /// An agent that restarts registers anew; its WireGuard's old address (a NAT mapping that may
    /// be gone) is not used until that WireGuard sends on the channel again.
    @Test func aNewRegistrationForgetsTheLearnedAddress() {
        let h = Harness(channelPorts: FakeChannelPorts())
        pairWithChannels(h)
        let toBob = WireGuardPacket.transport(receiver: Self.bobIndex, 0)
        #expect(channelPacket(h, toBob, on: 100, from: Self.aliceWireGuard) == .forwardRaw(socket: 101, to: Self.bobWireGuard, length: 32))
        let rebound = RelayAddress(high: Fixture.bobAddress.high, low: Fixture.bobAddress.low, port: Fixture.bobAddress.port + 1)
        _ = h.register(bob, from: rebound)
        #expect(h.state.channels[101]?.learned == nil)
        #expect(h.state.channels[100]?.learned == Self.aliceWireGuard)
        #expect(channelPacket(h, toBob, on: 100, from: Self.aliceWireGuard) == .forward(to: .udp(rebound), length: DataFrameHeader.length + 32))
        let bobsNewWireGuard = RelayAddress(high: Self.bobWireGuard.high, low: Self.bobWireGuard.low, port: Self.bobWireGuard.port + 1)
        _ = channelPacket(h, WireGuardPacket.transport(receiver: Self.aliceIndex, 0), on: 101, from: bobsNewWireGuard)
        #expect(channelPacket(h, toBob, on: 100, from: Self.aliceWireGuard) == .forwardRaw(socket: 101, to: bobsNewWireGuard, length: 32))
    }

    @Test func aChannelSilentForAMinuteGetsDataFramesAgain() {
        let h = Harness(channelPorts: FakeChannelPorts())
        pairWithChannels(h)
        h.now.wallMillis += RelayWire.channelFreshMillis + 1
        h.now.monotonicNanos += (RelayWire.channelFreshMillis + 1) * 1_000_000
        #expect(channelPacket(h, WireGuardPacket.transport(0), on: 100, from: Self.aliceWireGuard)
            == .forward(to: .udp(Fixture.bobAddress), length: DataFrameHeader.length + 32))
    }

    /// A member whose agent gave its channel up (its WireGuard's packets never came back through
    /// it) releases it: the relay closes the pair's two channels and tells the peer, and both
    /// ends' packets go as data frames at once, instead of out of a channel for as long as its
    /// learned address is fresh.
    @Test func aReleaseClosesThePairsChannelsAndTellsThePeer() {
        let ports = FakeChannelPorts()
        let h = Harness(channelPorts: ports)
        let pair = pairWithChannels(h)
        let a = pair.alice
        var b = pair.bob
        #expect(channelPacket(h, WireGuardPacket.transport(receiver: Self.aliceIndex, 0), on: 101, from: Self.bobWireGuard)
            == .forwardRaw(socket: 100, to: Self.aliceWireGuard, length: 32))
        #expect(reportedChannels(h, of: alice.publicKey) == ["\(bob.publicKey.base64) 40000 \(Self.aliceWireGuard)"])
        // Only alice's own registration may release her channel.
        let release = a.makeChannelRelease(to: bob.publicKey, nowMillis: h.now.wallMillis)
        #expect(h.send(release, from: Fixture.bobAddress) == .drop(.spoofedSession))
        #expect(h.send(b.makeChannelRelease(to: bob.publicKey, nowMillis: h.now.wallMillis), from: Fixture.bobAddress) == .drop(.selfDestination))
        #expect(h.state.channels.count == 2)
        #expect(h.send(release, from: Fixture.aliceAddress) == .forward(to: .udp(Fixture.bobAddress), length: ChannelGrantFrame.length))
        #expect(h.lastReply.withUnsafeBytes { b.receive($0, nowMillis: h.now.wallMillis) } == .channel(peer: alice.publicKey, port: 0))
        #expect(Set(ports.closed) == [100, 101] && ports.closed.count == 2)
        #expect(h.state.channels.count == 0)
        #expect(reportedChannels(h, of: alice.publicKey) == [])
        #expect(reportedChannels(h, of: bob.publicKey) == [])
        #expect(channelPacket(h, WireGuardPacket.transport(0), on: 101, from: Self.bobWireGuard) == .drop(.unknownSession))
        let framed = a.wrap(WireGuardPacket.transport(16), to: bob.publicKey, nowMillis: h.now.wallMillis)
        #expect(h.send(framed, from: Fixture.aliceAddress) == .forward(to: .udp(Fixture.bobAddress), length: framed.count))
        // The client sends its release more than once (it is not answered): the repeats close nothing more.
        #expect(h.send(a.makeChannelRelease(to: bob.publicKey, nowMillis: h.now.wallMillis), from: Fixture.aliceAddress) == .consumed)
        #expect(Set(ports.closed) == [100, 101] && ports.closed.count == 2)
        // A later request opens a new channel.
        #expect(requestChannel(h, a, to: bob.publicKey, from: Fixture.aliceAddress) == 40_002)
    }

    /// A member whose pair went direct closes its channel for the peer: only that channel goes,
    /// the peer hears nothing (its channel still carries this member's packets to it), and the
    /// peer's packets reach the member as data frames through its registration, which its agent
    /// keeps open, instead of raw to where its WireGuard last sent from (a NAT that forgot that
    /// mapping dropped them: the soak, 10 s after a conntrack flush).
    @Test func aCloseShutsOnlyTheSendersChannelAndSaysNothing() {
        let ports = FakeChannelPorts()
        let h = Harness(channelPorts: ports)
        let pair = pairWithChannels(h)
        let a = pair.alice
        #expect(channelPacket(h, WireGuardPacket.transport(receiver: Self.aliceIndex, 0), on: 101, from: Self.bobWireGuard)
            == .forwardRaw(socket: 100, to: Self.aliceWireGuard, length: 32))
        let close = a.makeChannelClose(to: bob.publicKey, nowMillis: h.now.wallMillis)
        #expect(h.send(close, from: Fixture.bobAddress) == .drop(.spoofedSession))
        #expect(h.state.channels.count == 2)
        #expect(h.send(close, from: Fixture.aliceAddress) == .consumed)
        #expect(ports.closed == [100])
        #expect(reportedChannels(h, of: alice.publicKey) == [])
        #expect(reportedChannels(h, of: bob.publicKey)?.count == 1)
        #expect(channelPacket(h, WireGuardPacket.transport(receiver: Self.aliceIndex, 0), on: 101, from: Self.bobWireGuard)
            == .forward(to: .udp(Fixture.aliceAddress), length: DataFrameHeader.length + 32))
        // Repeats (the close is not answered) close nothing more.
        #expect(h.send(a.makeChannelClose(to: bob.publicKey, nowMillis: h.now.wallMillis), from: Fixture.aliceAddress) == .consumed)
        #expect(ports.closed == [100])
    }

    @Test func peerUnknownGoesToTheOwnersAgentOnceASecond() {
        let h = Harness(channelPorts: FakeChannelPorts())
        let a = h.register(alice, from: Fixture.aliceAddress)
        _ = requestChannel(h, a, to: bob.publicKey, from: Fixture.aliceAddress)
        #expect(channelPacket(h, WireGuardPacket.initiation, on: 100, from: Self.aliceWireGuard) == .forward(to: .udp(Fixture.aliceAddress), length: 34))
        #expect(h.lastReply == PeerUnknownFrame(peer: bob.publicKey).encode())
        #expect(channelPacket(h, WireGuardPacket.initiation, on: 100, from: Self.aliceWireGuard) == .drop(.peerUnknown))
        h.now.wallMillis += 1_000
        #expect(channelPacket(h, WireGuardPacket.initiation, on: 100, from: Self.aliceWireGuard) == .forward(to: .udp(Fixture.aliceAddress), length: 34))
        #expect(h.drops(.peerUnknown) == 3)
    }

    @Test func channelsCloseWithTheirOwnerOrWhenUnused() {
        let ports = FakeChannelPorts()
        let h = Harness(channelPorts: ports)
        let a = h.register(alice, from: Fixture.aliceAddress)
        let b = h.register(bob, from: Fixture.bobAddress)
        _ = requestChannel(h, a, to: bob.publicKey, from: Fixture.aliceAddress)
        _ = requestChannel(h, b, to: alice.publicKey, from: Fixture.bobAddress)
        h.now.wallMillis += 60_000
        // Alice keeps her registration (pings) but not her channel; bob renews his channel.
        #expect(h.send(EchoFrame.ping(sessionID: a.sessionID, echo: 1).encode(), from: Fixture.aliceAddress) == .reply(length: 18))
        _ = requestChannel(h, b, to: alice.publicKey, from: Fixture.bobAddress)
        h.now.wallMillis += 61_000
        h.state.expireIdle(now: h.now)
        #expect(ports.closed == [100])
        #expect(h.state.channels.count == 1)
        h.state.replacePolicy(.keys([alice.publicKey]))
        h.state.expireIdle(now: h.now)
        #expect(Set(ports.closed) == [100, 101] && ports.closed.count == 2)
        #expect(h.state.channels.count == 0)
    }

    @Test func clientTakesOnlyGrantsForItsSession() {
        let h = Harness(channelPorts: FakeChannelPorts())
        var a = h.register(alice, from: Fixture.aliceAddress)
        func receive(_ frame: [UInt8]) -> RelayClientProtocol.Event { frame.withUnsafeBytes { a.receive($0, nowMillis: h.now.wallMillis) } }
        #expect(receive(ChannelGrantFrame(peer: bob.publicKey, sessionID: a.sessionID, port: 40_000).encode()) == .channel(peer: bob.publicKey, port: 40_000))
        #expect(receive(ChannelGrantFrame(peer: bob.publicKey, sessionID: a.sessionID &+ 1, port: 40_000).encode()) == .ignored)
    }
}
