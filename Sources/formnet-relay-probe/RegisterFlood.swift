import ArgumentParser
import Foundation
import RelayClient
import RelayWire
import WireGuard

/// A flood of register frames from many addresses that never read what the relay answers, as
/// spoofed sources would be, while fresh clients register one after another. Every frame's box
/// is junk: the relay learns that only by opening it, the X25519 operation a flood aims to
/// spend. Each legitimate client gets `timeout` seconds, and sends its register frame again
/// after the agent's first retry gap (a flood that outruns the relay fills its socket buffer,
/// and the kernel then drops anyone's datagrams).
struct RegisterFlood: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register-flood",
        abstract: "Flood junk register frames from many loopback addresses; check that real clients still register.")
    @OptionGroup var options: RelayOptions
    @Option(help: "Source addresses to flood from: 127.N.x.y, this many of them.") var sources = 500
    @Option(help: "Second byte of the flooding addresses; the clients register from 127.(N+1).0.x.") var net = 2
    @Option(help: "Frames per second, all sources together.") var rate = 20_000
    @Option(help: "Seconds to flood.") var seconds = 10.0
    @Option(help: "Clients to register during the flood.") var clients = 25
    @Option(help: "Seconds each client has to register.") var timeout = 1.0

    func run() throws {
        let (relay, relayKey) = try options.resolved()
        guard relay.isIPv4 else { throw ValidationError("--relay: an IPv4 loopback address") }
        let sockets = try (0..<sources).map { index in
            try ProbeSocket(relay: relay, tcp: false,
                            source: RelayAddress(Endpoint("127.\(net).\(index / 250).\(index % 250 + 1):0")!))
        }
        let junk = (0..<1024).map { _ in
            RegisterFrame(clientKey: PrivateKey.generate().publicKey, nonce: RelayBox.randomNonce(),
                          sealedTimestamp: RelayBox.randomBytes(RegisterFrame.sealedLength)).encode()
        }
        let flooding = Thread {
            paced(rate: rate, seconds: seconds) { i in sockets[i % sockets.count].send(junk[i % junk.count]) }
        }
        flooding.start()
        Thread.sleep(forTimeInterval: 1)
        var registered = 0
        var slowest = 0.0
        var failures: [String] = []
        // Each from an address of its own, as members are: a share per address would be
        // measured otherwise.
        for index in 0..<clients {
            let client = try ProbeClient(relay: relay, relayKey: relayKey, tcp: false,
                                         source: RelayAddress(Endpoint("127.\(net + 1).0.\(index + 1):0")!))
            let start = Date()
            do {
                try client.register(timeout: timeout, retry: RelayLinkMachine.Timing().registerRetry[0])
                registered += 1
                slowest = max(slowest, Date().timeIntervalSince(start))
            } catch {
                failures.append("\(error)")
            }
        }
        while !flooding.isFinished { Thread.sleep(forTimeInterval: 0.1) }
        try verdict(registered == clients, String(format: "%d junk register frames a second from %d addresses: %d of %d clients registered within %.0f s each (slowest %.2f s)%@",
                                                  rate, sources, registered, clients, timeout, slowest,
                                                  failures.isEmpty ? "" : "; " + Set(failures).joined(separator: ", ")))
    }
}

/// Registers a fresh client and prints its register frame in hex, for `send-captured` to replay
/// later (across a relay restart).
struct Capture: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Register a fresh client; print the register frame the relay accepted, in hex.")
    @OptionGroup var options: RelayOptions

    func run() throws {
        let frame = try options.client().register()
        print(frame.map { String(format: "%02x", $0) }.joined())
    }
}

/// Sends a captured register frame from another address: the relay must not register it.
struct SendCaptured: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send-captured",
        abstract: "Replay a register frame printed by capture, from another address; pass if the relay does not register it.")
    @OptionGroup var options: RelayOptions
    @Option(help: "The frame, in hex.") var frame: String
    @Option(help: "Source IPv4 address to send from.") var from = "127.0.0.31"

    func run() throws {
        let (relay, _) = try options.resolved()
        var bytes: [UInt8] = []
        var index = frame.startIndex
        while index < frame.endIndex, let next = frame.index(index, offsetBy: 2, limitedBy: frame.endIndex),
              let byte = UInt8(frame[index..<next], radix: 16) {
            bytes.append(byte)
            index = next
        }
        guard bytes.count == RegisterFrame.length else { throw ValidationError("--frame: a register frame of \(RegisterFrame.length) bytes in hex") }
        let socket = try ProbeSocket(relay: relay, tcp: false, source: RelayAddress(Endpoint("\(from):0")!))
        socket.send(bytes)
        let answers = socket.drain(timeout: 1)
        let names = answers.map { answer in
            answer.withUnsafeBytes { raw in
                if case .success(let type) = FrameType.classify(raw) { return type.name }
                return "unreadable"
            }
        }
        let registered = names.contains(FrameType.registered.name)
        try verdict(!registered, "replayed register frame from \(from): answers \(names.isEmpty ? "none" : names.joined(separator: ", "))")
    }
}
