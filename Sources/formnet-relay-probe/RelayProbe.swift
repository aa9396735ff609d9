import ArgumentParser
import Foundation
import RelayWire
import RelayClient
import WireGuard

/// Test clients for Integration/relay/run: each subcommand plays one scenario against a running
/// relay, prints what it measured and exits non-zero if the relay misbehaved. Counters the
/// relay keeps (drops by reason) are checked by the script from /metrics.
@main
struct RelayProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "formnet-relay-probe",
        abstract: "Scenario clients for testing a formnet relay.",
        subcommands: [Exchange.self, Unregistered.self, Spoof.self, Replay.self, Stale.self, Flood.self, Reregister.self, Info.self, TCPAttack.self, SlowReader.self, ChannelHog.self, OpenFill.self, RegisterFlood.self, Capture.self, SendCaptured.self, ChannelHijack.self, SocketFuzz.self])
}

struct RelayOptions: ParsableArguments {
    @Option(help: "Relay endpoint, IP:PORT.") var relay: String
    @Option(help: "Relay public key (base64).") var relayKey: String

    func resolved() throws -> (RelayAddress, PublicKey) {
        guard let endpoint = Endpoint(relay) else { throw ValidationError("--relay: expected IP:PORT") }
        guard let key = PublicKey(base64: relayKey) else { throw ValidationError("--relay-key: expected a base64 key") }
        return (RelayAddress(endpoint), key)
    }

    func client(tcp: Bool = false) throws -> ProbeClient {
        let (address, key) = try resolved()
        return try ProbeClient(relay: address, relayKey: key, tcp: tcp)
    }
}

func payload(_ tag: UInt8, _ index: Int, size: Int = 200) -> [UInt8] {
    var bytes = [UInt8](repeating: tag, count: size)
    bytes[0] = UInt8(truncatingIfNeeded: index)
    bytes[1] = UInt8(truncatingIfNeeded: index >> 8)
    return bytes
}

func verdict(_ ok: Bool, _ message: String) throws {
    print(message)
    if !ok { throw ExitCode.failure }
}

/// Sends `count` frames from `a` to `b` and returns how many arrived intact with `a` as source.
func deliver(_ count: Int, from a: ProbeClient, to b: ProbeClient, tag: UInt8) -> Int {
    var good = 0
    for i in 0..<count {
        let sent = payload(tag, i)
        a.send(sent, to: b.publicKey)
        if let (source, received) = b.receiveData(timeout: 1), source == a.publicKey, received == sent { good += 1 }
    }
    return good
}

struct Exchange: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A registered pair exchanges frames both ways.")
    @OptionGroup var options: RelayOptions
    @Option(help: "Transport of the first client: udp or tcp.") var first = "udp"
    @Option(help: "Transport of the second client: udp or tcp.") var second = "udp"
    @Option var count = 50
    @Option(help: "Private key of the first client (base64); random if not given.") var firstKey: String?
    @Option(help: "Private key of the second client (base64); random if not given.") var secondKey: String?
    @Flag(help: "Pass only if the relay refuses the registration as not allowed.") var expectRefusal = false
    @Option(help: "Pass if at least this percentage of the frames arrives each way.") var minPercent = 100
    @Option(help: "Source IPv4 addresses of the first and second client (default: the system's choice).") var from: [String] = []

    func run() throws {
        let (address, relayKey) = try options.resolved()
        let sources = try from.map { text -> RelayAddress in
            guard let source = Endpoint("\(text):0") else { throw ValidationError("--from \(text): an IPv4 address") }
            return RelayAddress(source)
        }
        let keys = try [firstKey, secondKey].map { text -> PrivateKey in
            guard let text else { return .generate() }
            guard let key = PrivateKey(base64: text) else { throw ValidationError("not a base64 private key") }
            return key
        }
        let a = try ProbeClient(relay: address, relayKey: relayKey, tcp: first == "tcp", key: keys[0], source: sources.first)
        let b = try ProbeClient(relay: address, relayKey: relayKey, tcp: second == "tcp", key: keys[1], source: sources.dropFirst().first)
        if expectRefusal {
            do {
                try a.register()
                try verdict(false, "registration accepted, expected not-allowed")
            } catch let failure as ProbeClient.Failure {
                try verdict(failure.description.contains("notAllowed"), failure.description)
            }
            return
        }
        try a.register()
        try b.register()
        let ab = deliver(count, from: a, to: b, tag: 0xA1)
        let ba = deliver(count, from: b, to: a, tag: 0xB2)
        let needed = (count * minPercent + 99) / 100
        try verdict(ab >= needed && ba >= needed, "exchange \(first)->\(second): a->b \(ab)/\(count), b->a \(ba)/\(count)")
    }
}

struct Unregistered: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A sender that never registered is not forwarded.")
    @OptionGroup var options: RelayOptions

    func run() throws {
        let b = try options.client()
        try b.register()
        let (address, _) = try options.resolved()
        let stranger = try ProbeSocket(relay: address, tcp: false)
        let frames = 20
        for i in 0..<frames {
            let header = DataFrameHeader(peer: b.publicKey, sessionID: UInt64.random(in: 1...UInt64.max), timestamp: RelayClock.wallMillis())
            stranger.send(header.wrap(payload(0xEE, i)))
        }
        let got = b.countData(timeout: 0.5)
        try verdict(got == 0, "unregistered sender: \(frames) sent, \(got) delivered")
    }
}

struct Spoof: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Another address using a registered client's session id is not forwarded.")
    @OptionGroup var options: RelayOptions

    func run() throws {
        let a = try options.client()
        let b = try options.client()
        try a.register()
        try b.register()
        let (address, _) = try options.resolved()
        let attacker = try ProbeSocket(relay: address, tcp: false)
        let frames = 20
        for i in 0..<frames { attacker.send(a.relay.wrap(payload(0x5F, i), to: b.publicKey, nowMillis: RelayClock.wallMillis())) }
        let got = b.countData(timeout: 0.5)
        let genuine = deliver(5, from: a, to: b, tag: 0xA1)
        try verdict(got == 0 && genuine == 5, "spoofed session from port \(attacker.localPort): \(frames) sent, \(got) delivered; genuine sender still delivers \(genuine)/5")
    }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A captured register frame sent again is refused.")
    @OptionGroup var options: RelayOptions

    func run() throws {
        let a = try options.client()
        let b = try options.client()
        let captured = try a.register()
        try b.register()
        let (address, _) = try options.resolved()
        let attacker = try ProbeSocket(relay: address, tcp: false)
        attacker.send(captured)
        let answers = attacker.drain(timeout: 0.5)
        let stillA = deliver(5, from: b, to: a, tag: 0xB2)
        // A cookie for its own address is all the replayer may get: the nonce it would have to
        // begin with is sealed inside a's box.
        let registered = answers.filter { $0.count > RelayWire.typeOffset && $0[RelayWire.typeOffset] == FrameType.registered.rawValue }
        let cookies = answers.filter { $0.withUnsafeBytes { CookieFrame.decode($0) } != nil }
        try verdict(registered.isEmpty && stillA == 5,
                    "replayed registration from port \(attacker.localPort): \(registered.count) registered answers, \(cookies.count) cookies; "
                        + "original registration still delivers \(stillA)/5")
    }
}

struct Stale: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stale timestamps are refused at registration and on data.")
    @OptionGroup var options: RelayOptions

    func run() throws {
        let (address, relayKey) = try options.resolved()
        let old = RelayClock.wallMillis() - 120_000
        let late = try ProbeSocket(relay: address, tcp: false)
        let key = PrivateKey.generate()
        var nonce = RelayBox.randomNonce()
        late.send(RelayClientProtocol.registerFrame(clientKey: key, relayKey: relayKey, timestamp: old, nonce: nonce))
        var answer = late.receive(timeout: 1)
        // A relay that asks for a cookie first (just started, or under load) gets one.
        if let cookie = answer.flatMap({ bytes in bytes.withUnsafeBytes { CookieFrame.decode($0) } }), cookie.nonce == nonce {
            nonce.replaceSubrange(0..<RelayWire.cookieLength, with: cookie.cookie)
            late.send(RelayClientProtocol.registerFrame(clientKey: key, relayKey: relayKey, timestamp: old, nonce: nonce))
            answer = late.receive(timeout: 1)
        }
        let refused = answer.flatMap { bytes in bytes.withUnsafeBytes { ErrorFrame.decode($0) } }?.code == .staleTimestamp

        let a = try options.client()
        let b = try options.client()
        try a.register()
        try b.register()
        let frames = 10
        for i in 0..<frames {
            a.socket.send(DataFrameHeader(peer: b.publicKey, sessionID: a.relay.sessionID, timestamp: old).wrap(payload(0x01, i)))
        }
        let got = b.countData(timeout: 0.5)
        try verdict(refused && got == 0, "stale registration answered with stale-timestamp error: \(refused); stale data: \(frames) sent, \(got) delivered")
    }
}

struct Flood: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A client flooding at 10× its limit does not slow another pair.")
    @OptionGroup var options: RelayOptions
    @Option(name: .customLong("limit-kbps"), help: "The relay's --max-bandwidth, KB/s.") var limitKBps = 256
    @Option(help: "Frames per second the measured pair sends.") var pairRate = 200
    @Option(help: "Seconds per phase.") var seconds = 2.0

    func run() throws {
        let a = try options.client()
        let b = try options.client()
        let flooder = try options.client()
        let sink = try options.client()
        for client in [a, b, flooder, sink] { try client.register() }

        let baseline = measurePair(a, b)
        let floodFrame = 1400
        let floodRate = Int(Double(limitKBps * 1024 * 10) / Double(floodFrame + RelayWire.dataHeaderLength))
        let floodDone = DispatchSemaphore(value: 0)
        let sinkCount = LockedCount()
        let duration = seconds + 0.5
        Thread {
            paced(rate: floodRate, seconds: duration) { i in flooder.send(payload(0xF0, i, size: floodFrame), to: sink.publicKey) }
            floodDone.signal()
        }.start()
        Thread { sinkCount.add(sink.countData(timeout: 1)) }.start()
        Thread.sleep(forTimeInterval: 0.25)
        let underFlood = measurePair(a, b)
        floodDone.wait()
        Thread.sleep(forTimeInterval: 1.2)
        let sinkRate = Double(sinkCount.value) * Double(floodFrame + RelayWire.dataHeaderLength) / duration / 1024
        let ratio = baseline == 0 ? 0 : Double(underFlood) / Double(baseline)
        try verdict(baseline > 0 && ratio >= 0.9, String(format: "flood at %d frames/s (10x %d KB/s): pair delivered %d alone, %d under flood (%.1f%%); flooder got through at %.0f KB/s",
                                                         floodRate, limitKBps, baseline, underFlood, ratio * 100, sinkRate))
    }

    private func measurePair(_ a: ProbeClient, _ b: ProbeClient) -> Int {
        let received = LockedCount()
        let done = DispatchSemaphore(value: 0)
        Thread {
            received.add(b.countData(timeout: 0.5))
            done.signal()
        }.start()
        paced(rate: pairRate, seconds: seconds) { i in a.send(payload(0xA1, i, size: 500), to: b.publicKey) }
        done.wait()
        return received.value
    }
}

final class LockedCount: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var count = 0
    func add(_ n: Int) { lock.lock(); count += n; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}

/// Calls `send` `rate` times a second for `seconds`, in 1 ms steps.
func paced(rate: Int, seconds: Double, _ send: (Int) -> Void) {
    let start = Date()
    var sent = 0
    while true {
        let elapsed = Date().timeIntervalSince(start)
        if elapsed >= seconds { break }
        let due = Int(elapsed * Double(rate))
        while sent < due { send(sent); sent += 1 }
        usleep(1000)
    }
}

struct Reregister: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Registering again from a new address takes over.")
    @OptionGroup var options: RelayOptions

    func run() throws {
        let (address, relayKey) = try options.resolved()
        let key = PrivateKey.generate()
        let first = try ProbeClient(relay: address, relayKey: relayKey, tcp: false, key: key)
        let b = try options.client()
        try first.register()
        try b.register()
        let before = deliver(5, from: b, to: first, tag: 0xB2)
        let oldSession = first.relay.sessionID
        let moved = try ProbeClient(relay: address, relayKey: relayKey, tcp: false, key: key)
        try moved.register()
        let after = deliver(5, from: b, to: moved, tag: 0xB2)
        let leaked = first.countData(timeout: 0.3)
        for i in 0..<5 {
            first.socket.send(DataFrameHeader(peer: b.publicKey, sessionID: oldSession, timestamp: RelayClock.wallMillis()).wrap(payload(0x0D, i)))
        }
        let fromOld = b.countData(timeout: 0.5)
        try verdict(before == 5 && after == 5 && leaked == 0 && fromOld == 0,
                    "re-registration from port \(first.socket.localPort) -> \(moved.socket.localPort): before \(before)/5 at old address, after \(after)/5 at new, \(leaked) to old address, old session forwarded \(fromOld)/5")
    }
}

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Ping, relay info and discovery answers.")
    @OptionGroup var options: RelayOptions
    @Option(help: "Pass only if discovery lists this relay (KEY or KEY@IP:PORT).") var expectRelay: String?

    func run() throws {
        let client = try options.client()
        let start = Date()
        client.socket.send(client.relay.makePing(echo: 42))
        let pong = client.socket.receive(timeout: 1).map { bytes in bytes.withUnsafeBytes { client.relay.receive($0, nowMillis: RelayClock.wallMillis()) } }
        let rtt = Date().timeIntervalSince(start) * 1000
        client.socket.send(PaddedRequestFrame.infoRequest(echo: 7).encode())
        let info = client.socket.receive(timeout: 1).flatMap { bytes in bytes.withUnsafeBytes { InfoResponseFrame.decode($0) } }
        client.socket.send(PaddedRequestFrame.discoveryQuery(echo: 9).encode())
        let discovery = client.socket.receive(timeout: 1).flatMap { bytes in bytes.withUnsafeBytes { DiscoveryResponseFrame.decode($0) } }
        let (_, relayKey) = try options.resolved()
        var ok = pong == .pong(echo: 42, stillRegistered: false) && info?.relayKey == relayKey && info?.echo == 7 && discovery?.echo == 9
        if let expectRelay {
            let listed = discovery?.relays.map { "\($0.key.base64)@\($0.endpoint)" } ?? []
            ok = ok && listed.contains { $0 == expectRelay || $0.hasPrefix(expectRelay + "@") }
        }
        try verdict(ok, String(format: "ping rtt %.2f ms; info: key matches %@, load %d/%d, version %@; discovery: %d relays %@",
                               rtt, "\(info?.relayKey == relayKey)", info?.load ?? 0, info?.capacity ?? 0, info?.version ?? "-",
                               discovery?.relays.count ?? -1, discovery?.relays.map { "\($0.key.base64)@\($0.endpoint)" }.joined(separator: ", ") ?? ""))
    }
}
