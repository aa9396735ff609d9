import RelayWire
import Testing
import WireGuard

/// Each control frame against the byte layout in docs/relay-protocol.md.
@Suite struct ControlFrameTests {
    private func decode<T>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) -> T?) -> T? { bytes.withUnsafeBytes(body) }

    @Test func register() {
        let sealed = [UInt8](repeating: 0xCC, count: 24)
        let frame = RegisterFrame(clientKey: Fixture.keyA, nonce: Fixture.nonce, sealedTimestamp: sealed)
        let bytes = frame.encode()
        #expect(bytes == [0x01, 0x01] + Fixture.keyA.bytes + Fixture.nonce + sealed)
        #expect(bytes.count == 82)
        #expect(decode(bytes, RegisterFrame.decode) == frame)
        #expect(decode(Array(bytes.dropLast()), RegisterFrame.decode) == nil)
        #expect(decode(bytes + [0], RegisterFrame.decode) == nil)
    }

    @Test func registeredAndItsPayload() {
        let payload = RegisteredPayload(sessionID: 0xAABB_CCDD_EEFF_0011, echoedTimestamp: 0x0102_0304_0506_0708, observedAddress: Fixture.aliceAddress)
        #expect(payload.encode() == Fixture.bytes("AABBCCDDEEFF0011 0102030405060708 04 C6336407 000000000000000000000000 9C40"))
        #expect(RegisteredPayload.decode(payload.encode()) == payload)
        let sealed = [UInt8](repeating: 0x77, count: 51)
        let frame = RegisteredFrame(nonce: Fixture.nonce, sealedPayload: sealed)
        #expect(frame.encode() == [0x01, 0x02] + Fixture.nonce + sealed)
        #expect(frame.encode().count == 77)
        #expect(decode(frame.encode(), RegisteredFrame.decode) == frame)
        #expect(decode(Array(frame.encode().dropLast()), RegisteredFrame.decode) == nil)
    }

    @Test func addressFormat() {
        var v6 = [UInt8]()
        Fixture.bobAddress.encode(into: &v6)
        #expect(v6 == Fixture.bytes("06 20010DB8000000000000000000000009 9C41"))
        let decodedV6 = v6.withUnsafeBytes { RelayAddress.decode($0, at: 0) }
        #expect(decodedV6 == Fixture.bobAddress)
        var badFamily = v6
        badFamily[0] = 5
        #expect(badFamily.withUnsafeBytes { RelayAddress.decode($0, at: 0) } == nil)
        var v4WithJunk = Fixture.bytes("04 C6336407 000000000000000000000000 9C40")
        #expect(v4WithJunk.withUnsafeBytes { RelayAddress.decode($0, at: 0) } == Fixture.aliceAddress)
        v4WithJunk[10] = 1
        #expect(v4WithJunk.withUnsafeBytes { RelayAddress.decode($0, at: 0) } == nil)
        #expect(v6.dropLast().withUnsafeBytes { RelayAddress.decode($0, at: 0) } == nil)
    }

    @Test func peerUnknown() {
        let frame = PeerUnknownFrame(peer: Fixture.keyB)
        #expect(frame.encode() == [0x01, 0x04] + Fixture.keyB.bytes)
        #expect(decode(frame.encode(), PeerUnknownFrame.decode) == frame)
        #expect(decode(frame.encode() + [0], PeerUnknownFrame.decode) == nil)
    }

    @Test func pingAndPong() {
        let ping = EchoFrame.ping(sessionID: 0x0102_0304_0506_0708, echo: 0x1122_3344_5566_7788)
        #expect(ping.encode() == Fixture.bytes("0105 0102030405060708 1122334455667788"))
        #expect(decode(ping.encode()) { EchoFrame.decode($0, as: .ping) } == ping)
        let pong = EchoFrame.pong(sessionID: 0, echo: 9)
        #expect(pong.encode() == Fixture.bytes("0106 0000000000000000 0000000000000009"))
        #expect(decode(pong.encode()) { EchoFrame.decode($0, as: .pong) } == pong)
        #expect(decode(pong.encode()) { EchoFrame.decode($0, as: .ping) } == nil)
        #expect(decode(Array(ping.encode().dropLast())) { EchoFrame.decode($0, as: .ping) } == nil)
    }

    @Test func error() {
        let frame = ErrorFrame(code: .tooManyTunnels, relayClockMillis: 0x0000_018B_CFE5_6800)
        #expect(frame.encode() == Fixture.bytes("0107 04 0000018BCFE56800"))
        #expect(decode(frame.encode(), ErrorFrame.decode) == frame)
        #expect(decode(Fixture.bytes("0107 09 0000018BCFE56800"), ErrorFrame.decode) == nil)
        for code in [RelayErrorCode.staleTimestamp, .notAllowed, .relayFull] {
            #expect(ErrorFrame(code: code, relayClockMillis: 1).encode()[2] == code.rawValue)
        }
        #expect(RelayErrorCode.staleTimestamp.rawValue == 1 && RelayErrorCode.notAllowed.rawValue == 2 && RelayErrorCode.relayFull.rawValue == 3)
    }

    @Test func paddedRequests() {
        let info = PaddedRequestFrame.infoRequest(echo: 0x0A0B_0C0D_0E0F_1011).encode()
        #expect(info.count == 1200)
        #expect(Array(info[0..<10]) == Fixture.bytes("0108 0A0B0C0D0E0F1011"))
        #expect(info[10...].allSatisfy { $0 == 0 })
        #expect(decode(info) { PaddedRequestFrame.decode($0, as: .infoRequest) }?.echo == 0x0A0B_0C0D_0E0F_1011)
        #expect(decode(Array(info.dropLast())) { PaddedRequestFrame.decode($0, as: .infoRequest) } == nil)
        let discovery = PaddedRequestFrame.discoveryQuery(echo: 3).encode()
        #expect(Array(discovery[0..<10]) == Fixture.bytes("010A 0000000000000003"))
        #expect(discovery.count == 1200)
        #expect(decode(discovery) { PaddedRequestFrame.decode($0, as: .infoRequest) } == nil)
    }

    @Test func infoResponse() {
        let frame = InfoResponseFrame(echo: 5, relayKey: Fixture.keyA, capacity: 100, load: 7,
                                      location: RelayLocation(latitudeMicrodegrees: 48_850_000, longitudeMicrodegrees: -2_350_000),
                                      version: "0.1.0", endpoints: [Fixture.aliceAddress, Fixture.bobAddress])
        let bytes = frame.encode()
        var expected = Fixture.bytes("0109 0000000000000005") + Fixture.keyA.bytes
        expected += Fixture.bytes("00000064 00000007 02E96450 FFDC2450 05") + Array("0.1.0".utf8) + [2]
        expected += Fixture.bytes("04 C6336407 000000000000000000000000 9C40")
        expected += Fixture.bytes("06 20010DB8000000000000000000000009 9C41")
        #expect(bytes == expected)
        #expect(bytes.count == 60 + 5 + 2 * 19)
        #expect(decode(bytes, InfoResponseFrame.decode) == frame)
        #expect(decode(Array(bytes.dropLast()), InfoResponseFrame.decode) == nil)
        var lyingCount = bytes
        lyingCount[59 + 5] = 3
        #expect(decode(lyingCount, InfoResponseFrame.decode) == nil)
        let bare = InfoResponseFrame(echo: 0, relayKey: Fixture.keyA, capacity: 0, load: 0, location: .unknown, version: "", endpoints: [])
        #expect(bare.encode().count == 60)
        #expect(Array(bare.encode()[50..<58]) == Fixture.bytes("80000000 80000000"))
        let huge = InfoResponseFrame(echo: 0, relayKey: Fixture.keyA, capacity: 0, load: 0, location: .unknown,
                                     version: String(repeating: "v", count: 40), endpoints: Array(repeating: Fixture.aliceAddress, count: 20))
        #expect(huge.encode().count == 396)
        #expect(decode(huge.encode(), InfoResponseFrame.decode)?.endpoints.count == 16)
    }

    @Test func discoveryResponse() {
        let relay = KnownRelay(key: Fixture.keyB, endpoint: Fixture.aliceAddress, location: RelayLocation(latitudeMicrodegrees: 1, longitudeMicrodegrees: -1))
        let frame = DiscoveryResponseFrame(echo: 4, relays: [relay])
        let bytes = frame.encode()
        #expect(bytes == Fixture.bytes("010B 0000000000000004 01") + Fixture.keyB.bytes
            + Fixture.bytes("04 C6336407 000000000000000000000000 9C40 00000001 FFFFFFFF"))
        #expect(decode(bytes, DiscoveryResponseFrame.decode) == frame)
        #expect(decode(Array(bytes.dropLast()), DiscoveryResponseFrame.decode) == nil)
        let full = DiscoveryResponseFrame(echo: 0, relays: Array(repeating: relay, count: 20)).encode()
        #expect(full.count == 955)
        #expect(full.count <= RelayWire.paddedRequestLength)
        #expect(DiscoveryResponseFrame(echo: 0, relays: []).encode().count == 11)
    }

    @Test func announce() {
        let payload = AnnouncePayload(timestamp: 0x0102_0304_0506_0708, endpoint: Fixture.aliceAddress, location: .unknown)
        #expect(payload.encode() == Fixture.bytes("0102030405060708 04 C6336407 000000000000000000000000 9C40 80000000 80000000"))
        #expect(AnnouncePayload.decode(payload.encode()) == payload)
        let sealed = [UInt8](repeating: 0x44, count: 51)
        let frame = AnnounceFrame(announcerKey: Fixture.keyA, nonce: Fixture.nonce, sealedPayload: sealed)
        #expect(frame.encode() == [0x01, 0x0C] + Fixture.keyA.bytes + Fixture.nonce + sealed)
        #expect(frame.encode().count == 109)
        #expect(decode(frame.encode(), AnnounceFrame.decode) == frame)
    }

    @Test func cookieLayout() {
        let nonce = Array(0..<24).map { UInt8($0) }
        let cookie = [UInt8](repeating: 0xC0, count: 16)
        let bytes = CookieFrame(nonce: nonce, cookie: cookie).encode()
        #expect(bytes.count == 42)
        #expect(Array(bytes[0..<2]) == [0x01, 0x10])
        #expect(Array(bytes[2..<26]) == nonce)
        #expect(Array(bytes[26..<42]) == cookie)
        #expect(bytes.withUnsafeBytes { CookieFrame.decode($0) } == CookieFrame(nonce: nonce, cookie: cookie))
        #expect(Array(bytes.dropLast()).withUnsafeBytes { CookieFrame.decode($0) } == nil)
        var wrongType = bytes
        wrongType[1] = 0x02
        #expect(wrongType.withUnsafeBytes { CookieFrame.decode($0) } == nil)
    }

    @Test func classifyRejectsShortWrongVersionAndUnknownType() {
        #expect([UInt8]([0x01]).withUnsafeBytes { FrameType.classify($0) } == .failure(.malformed))
        #expect([UInt8]([0x02, 0x03]).withUnsafeBytes { FrameType.classify($0) } == .failure(.badVersion))
        #expect([UInt8]([0x01, 0x12]).withUnsafeBytes { FrameType.classify($0) } == .failure(.unknownType))
        #expect([UInt8]([0x01, 0x00]).withUnsafeBytes { FrameType.classify($0) } == .failure(.unknownType))
        for type in FrameType.allCases {
            #expect([0x01, type.rawValue].withUnsafeBytes { FrameType.classify($0) } == .success(type))
        }
    }
}
