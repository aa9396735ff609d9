import RelayClient
import RelayServer
import RelayWire
import WireGuard

// libFuzzer entry point over everything in the relay that reads untrusted bytes: the frame
// classifier and every decoder, the registration and announcement handler, the relay state
// (as a registered client's source and as a stranger's) and the client-side receiver.
// Built and run by Integration/relay/fuzz/run.

private let relayKey = PrivateKey(bytes: [UInt8](repeating: 0x11, count: 32))!
private let clientKey = PrivateKey(bytes: [UInt8](repeating: 0x22, count: 32))!
private let peerKey = PrivateKey(bytes: [UInt8](repeating: 0x33, count: 32))!
private let clientAddress = RelayAddress(Endpoint("127.0.0.2:1000")!)
private let peerAddress = RelayAddress(Endpoint("127.0.0.3:1000")!)
private let strangerAddress = RelayAddress(Endpoint("127.0.0.4:1000")!)
private let now = RelayInstant(wallMillis: 1_700_000_000_000, monotonicNanos: 1_000_000_000)

/// The relay with two registered clients, made once (libFuzzer runs every input in one
/// process) and mutated in place: a class, so that no input pays for copying the relay's tables.
private final class Fixture {
    var state: RelayState
    var client = RelayClientProtocol(clientKey: clientKey, relayKey: relayKey.publicKey)
    var handler = RegistrationHandler(relayKey: relayKey)
    let cookies = RegistrationCookies(now: now.monotonicNanos)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: RelayWire.maxFrame, alignment: 16)

    init() {
        var configuration = RelayConfiguration()
        configuration.rateLimit = 1_000_000_000
        configuration.registrationRatePerSecond = 1_000_000_000
        configuration.registrationBurst = 1_000_000_000
        configuration.registrationsPerSecondTotal = 1_000_000_000
        // Registration cookies have a pass of their own below; the fixture's clients register
        // without them.
        configuration.cookiesAfterStartMillis = 0
        state = RelayState(relayKey: relayKey, configuration: configuration, policy: .open, now: now)
        for (key, address) in [(clientKey, clientAddress), (peerKey, peerAddress)] {
            var registering = RelayClientProtocol(clientKey: key, relayKey: relayKey.publicKey)
            let frame = registering.makeRegister(nowMillis: now.wallMillis)
            frame.withUnsafeBytes { buffer.copyMemory(from: $0) }
            if case .reply(let n) = state.handle(buffer, length: frame.count, from: .udp(address), observed: address, now: now), key == clientKey {
                let reply = Array(buffer[0..<n])
                _ = reply.withUnsafeBytes { client.receive($0, nowMillis: now.wallMillis) }
            }
        }
    }
}

// Touched only by libFuzzer's single fuzzing thread.
private nonisolated(unsafe) let fixture = Fixture()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRelayFrames(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let length = min(size, RelayWire.maxFrame)
    let input = UnsafeRawBufferPointer(start: data, count: length)
    _ = FrameType.classify(input)
    _ = RegisterFrame.decode(input)
    _ = RegisteredFrame.decode(input)
    _ = DataFrameHeader.unwrap(input)
    _ = PeerUnknownFrame.decode(input)
    _ = EchoFrame.decode(input, as: .ping)
    _ = ErrorFrame.decode(input)
    _ = PaddedRequestFrame.decode(input, as: .infoRequest)
    _ = InfoResponseFrame.decode(input)
    _ = DiscoveryResponseFrame.decode(input)
    _ = AnnounceFrame.decode(input)
    _ = CookieFrame.decode(input)
    _ = ChannelRequestFrame.decode(input)
    _ = ChannelGrantFrame.decode(input)
    if length >= 32 {
        _ = WireGuardMessageShape.isPlausible(input) ? (WireGuardMessageShape.senderIndex(input), WireGuardMessageShape.receiverIndex(input)) : (nil, nil)
    }
    var cookies = fixture.cookies
    _ = cookies.accepts(nonce: input, from: strangerAddress, now: now.monotonicNanos)
    _ = fixture.handler.verifyRegister(input, nowMillis: now.wallMillis)
    _ = fixture.handler.verifyAnnounce(input, nowMillis: now.wallMillis)
    _ = fixture.client.receive(input, nowMillis: now.wallMillis)
    let buffer = fixture.buffer
    for source in [clientAddress, strangerAddress] {
        if length > 0 { buffer.copyMemory(from: input) }
        // A fuzzer cannot guess a 64-bit session, a fresh timestamp or a 32-byte key: for the
        // registered client's pass, data frames get its real session, and the bits of byte 2
        // choose whether the peer's real key and a fresh timestamp are put in too, so that the
        // forwarding path is reached as well as every check before it.
        if source == clientAddress, length >= DataFrameHeader.flagsOffset, buffer[RelayWire.typeOffset] == FrameType.data.rawValue {
            let choice = buffer[DataFrameHeader.peerOffset]
            if choice & 1 == 0 { PeerID(peerKey.publicKey).write(to: buffer, at: DataFrameHeader.peerOffset) }
            buffer.storeBytes(of: fixture.client.sessionID.bigEndian, toByteOffset: DataFrameHeader.sessionOffset, as: UInt64.self)
            if choice & 2 == 0 { buffer.storeBytes(of: now.wallMillis.bigEndian, toByteOffset: DataFrameHeader.timestampOffset, as: UInt64.self) }
        }
        switch fixture.state.handle(buffer, length: length, from: .udp(source), observed: source, now: now) {
        case .reply(let n): precondition(n > 0 && n <= RelayWire.maxFrame)
        case .forward(let to, let n): precondition(to == .udp(peerAddress) && n == length && source == clientAddress)
        case .forwardRaw: preconditionFailure("this relay has no channels")
        case .drop, .consumed: break
        }
    }
    // The same bytes as a TCP stream, cut in two where the first byte says: the reader must
    // frame them the same whatever the cut (lengths 0 and above the maximum end the stream),
    // and every frame it yields goes through the relay as a TCP client's.
    let cut = length == 0 ? 0 : Int(input[0]) % (length + 1)
    var reader = StreamFrameReader()
    var frames: [[UInt8]] = []
    var failed = false
    for part in [input[0..<cut], input[cut..<length]] {
        reader.append(UnsafeRawBufferPointer(rebasing: part))
        do { try reader.drain { frames.append(Array($0)) } } catch { failed = true; break }
    }
    var whole = StreamFrameReader()
    whole.append(input)
    var wholeFrames: [[UInt8]] = []
    let wholeFailed: Bool
    do { try whole.drain { wholeFrames.append(Array($0)) }; wholeFailed = false } catch { wholeFailed = true }
    precondition(failed == wholeFailed && (failed || frames == wholeFrames), "framing depends on where the stream was cut")
    precondition(reader.pending <= length)
    for frame in frames {
        precondition(frame.count > 0 && frame.count <= RelayWire.maxFrame)
        frame.withUnsafeBytes { buffer.copyMemory(from: $0) }
        let tcp = Binding.tcp(connection: 1, peer: strangerAddress)
        if case .reply(let n) = fixture.state.handle(buffer, length: frame.count, from: tcp, observed: strangerAddress, now: now) {
            precondition(n > 0 && n <= RelayWire.maxFrame)
        }
    }
    return 0
}
