import ArgumentParser
import Datagram
import Foundation
import RelayWire
import WireGuard

/// Fuzzes a running relay through its sockets: mutated frames of every type over UDP from many
/// source addresses, the same over TCP with the stream's length prefix chosen to break it
/// (0, 1, 65535, off by one, random) and each write cut at a random point, and mutated
/// WireGuard packets into a channel port. Two registered clients give the mutations real
/// sessions and keys to start from. Pass if the relay still answers and forwards afterwards;
/// the caller watches its memory.
struct SocketFuzz: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz",
        abstract: "Send mutated frames over UDP, TCP and a channel port; check that the relay still serves a pair.")
    @OptionGroup var options: RelayOptions
    @Option(help: "Inputs to send, all transports together (a datagram, or a frame on a TCP stream).") var inputs = 1_000_000
    @Option(help: "Seed of the mutations (0: random).") var seed: UInt64 = 0
    @Option(help: "Second byte of the UDP source addresses, 127.N.x.y.") var net = 4
    @Option(help: "UDP source addresses to rotate through.") var sources = 256

    func run() throws {
        let (relay, relayKey) = try options.resolved()
        guard relay.isIPv4 else { throw ValidationError("--relay: an IPv4 loopback address") }
        var rng = FuzzRandom(seed: seed == 0 ? UInt64.random(in: 1...UInt64.max) : seed)
        let a = try options.client()
        let b = try options.client()
        try a.register()
        try b.register()
        let templates = Self.templates(a, b, relayKey: relayKey)
        let channelPort = try a.channel(to: b.publicKey)

        let udp = try (0..<sources).map { index in
            try ProbeSocket(relay: relay, tcp: false, source: RelayAddress(Endpoint("127.\(net).\(index / 250).\(index % 250 + 1):0")!))
        }
        let channel = try ProbeSocket(relay: RelayAddress(high: relay.high, low: relay.low, port: channelPort), tcp: false)
        var stream = try FuzzStream(relay: relay)
        let start = Date()
        var sent = (udp: 0, tcp: 0, channel: 0)
        var streamsClosed = 0
        for input in 0..<inputs {
            switch rng.next() % 10 {
            case 0..<6:
                udp[input % udp.count].send(Self.mutate(templates[Int(rng.next() % UInt64(templates.count))], &rng))
                sent.udp += 1
            case 6..<9:
                if !stream.send(Self.mutate(templates[Int(rng.next() % UInt64(templates.count))], &rng), &rng) {
                    streamsClosed += 1
                    stream = try FuzzStream(relay: relay)
                }
                sent.tcp += 1
            default:
                channel.send(Self.mutate(Self.wireGuardTemplates[Int(rng.next() % 4)], &rng))
                sent.channel += 1
            }
        }
        let seconds = Date().timeIntervalSince(start)
        // The relay still serves a pair registered before the storm, and a fresh one.
        Thread.sleep(forTimeInterval: 0.5)
        _ = a.socket.drain(timeout: 0.2)
        _ = b.socket.drain(timeout: 0.2)
        try a.register()
        try b.register()
        let delivered = deliver(50, from: a, to: b, tag: 0xF2)
        let fresh = try options.client()
        try fresh.register()
        try verdict(delivered == 50, String(format: "%d inputs in %.0f s: %d datagrams, %d TCP frames (%d streams closed by the relay), %d channel packets; "
                                                + "afterwards the pair delivered %d/50 and a new client registered",
                                            inputs, seconds, sent.udp, sent.tcp, streamsClosed, sent.channel, delivered))
    }

    /// One valid frame of every type, both directions, with the registered clients' sessions.
    static func templates(_ a: ProbeClient, _ b: ProbeClient, relayKey: PublicKey) -> [[UInt8]] {
        let now = RelayClock.wallMillis()
        var registering = a.relay
        let nonce = RelayBox.randomNonce()
        return [
            registering.makeRegister(nowMillis: now),
            a.relay.wrap(wireGuardTemplates[3], to: b.publicKey, nowMillis: now),
            a.relay.wrap([UInt8](repeating: 0x42, count: RelayWire.maxPayload), to: b.publicKey, nowMillis: now),
            a.relay.makePing(echo: 7),
            PaddedRequestFrame.infoRequest(echo: 1).encode(),
            PaddedRequestFrame.discoveryQuery(echo: 2).encode(),
            AnnounceFrame(announcerKey: a.publicKey, nonce: nonce, sealedPayload: RelayBox.randomBytes(AnnounceFrame.sealedLength)).encode(),
            a.relay.makeChannelRequest(to: b.publicKey, nowMillis: now),
            a.relay.makeChannelRelease(to: PrivateKey.generate().publicKey, nowMillis: now),
            a.relay.makeChannelClose(to: PrivateKey.generate().publicKey, nowMillis: now),
            RegisteredFrame(nonce: nonce, sealedPayload: RelayBox.randomBytes(RegisteredPayload.length + RelayWire.boxOverhead)).encode(),
            PeerUnknownFrame(peer: b.publicKey).encode(),
            EchoFrame.pong(sessionID: 1, echo: 1).encode(),
            ErrorFrame(code: .relayFull, relayClockMillis: now).encode(),
            InfoResponseFrame(echo: 1, relayKey: relayKey, capacity: 1, load: 0, location: .unknown, version: "x", endpoints: []).encode(),
            DiscoveryResponseFrame(echo: 1, relays: []).encode(),
            ChannelGrantFrame(peer: b.publicKey, sessionID: 1, port: 1).encode(),
            CookieFrame(nonce: nonce, cookie: [UInt8](repeating: 1, count: RelayWire.cookieLength)).encode(),
        ]
    }

    static let wireGuardTemplates: [[UInt8]] = [
        [1, 0, 0, 0] + [UInt8](repeating: 0xAB, count: 144),
        [2, 0, 0, 0] + [UInt8](repeating: 0xAB, count: 88),
        [3, 0, 0, 0] + [UInt8](repeating: 0xAB, count: 60),
        [4, 0, 0, 0] + [UInt8](repeating: 0xCD, count: 60),
    ]

    /// A template changed the ways a decoder is most likely to be wrong about: bytes flipped,
    /// cut short, grown, a field of header bytes rewritten, or all random.
    static func mutate(_ template: [UInt8], _ rng: inout FuzzRandom) -> [UInt8] {
        var bytes = template
        switch rng.next() % 8 {
        case 0:
            return (0..<Int(rng.next() % 2100)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 1:
            bytes.removeLast(Int(rng.next() % UInt64(bytes.count + 1)))
        case 2:
            bytes += (0..<Int(rng.next() % 64 + 1)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 3 where bytes.count >= 2:
            bytes[1] = UInt8(truncatingIfNeeded: rng.next() % 20)
        default:
            for _ in 0...(rng.next() % 8) where !bytes.isEmpty {
                bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
            }
        }
        return bytes.count > RelayWire.maxFrame + 64 ? Array(bytes.prefix(RelayWire.maxFrame + 64)) : bytes
    }
}

/// xorshift64*: repeatable mutations from a seed.
struct FuzzRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}

/// A TCP connection to the relay that is sent frames behind length prefixes chosen to break the
/// framing, in writes cut at random points. The relay's answers are read and thrown away so
/// that it is not a slow reader; a connection the relay closed is replaced.
struct FuzzStream {
    let fd: Int32

    init(relay: RelayAddress) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0, SocketCalls.connect(fd, family: AF_INET, to: relay) == 0 else {
            throw ProbeClient.Failure(description: "TCP connect: \(String(cString: strerror(errno)))")
        }
    }

    /// False when the relay closed the connection (which then is closed here too).
    mutating func send(_ frame: [UInt8], _ rng: inout FuzzRandom) -> Bool {
        let lengths = [frame.count, frame.count, frame.count, 0, 1, 65_535, frame.count + 1, max(frame.count - 1, 0),
                       Int(rng.next() % 65_536)]
        let length = lengths[Int(rng.next() % UInt64(lengths.count))]
        let bytes = [UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)] + frame
        var offset = 0
        while offset < bytes.count {
            let piece = min(bytes.count - offset, Int(rng.next() % 4096) + 1)
            let n = bytes[offset..<offset + piece].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, piece, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else {
                close(fd)
                return false
            }
            offset += n
        }
        var scratch = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n == 0 { close(fd); return false }
            if n < 0 { break }
        }
        return true
    }
}
