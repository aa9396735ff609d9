import Testing
import WireGuard
@testable import FormnetTraversal

@Suite struct ICMPEchoTests {
    /// An IPv4 header (20 bytes, no options) in front of `message`, as a raw socket delivers it.
    static func ipv4(_ message: [UInt8], headerWords: UInt8 = 5) -> [UInt8] {
        [0x40 | headerWords] + [UInt8](repeating: 0, count: Int(headerWords) * 4 - 1) + message
    }

    static func reply(from request: [UInt8], type: UInt8) -> [UInt8] {
        var message = request
        message[0] = type
        message[2] = 0
        message[3] = 0
        let sum = ICMPEcho.checksum(message)
        message[2] = UInt8(sum >> 8)
        message[3] = UInt8(sum & 0xFF)
        return message
    }

    @Test func requestsCarryIdentifierSequenceAndAValidChecksum() {
        let echo = ICMPEcho(identifier: 0x1234, sequence: 0xBEEF, payload: [1, 2, 3])
        let v4 = echo.request(ipv6: false)
        #expect(Array(v4[0...1]) == [8, 0])
        #expect(Array(v4[4...]) == [0x12, 0x34, 0xBE, 0xEF, 1, 2, 3])
        #expect(ICMPEcho.checksum(v4) == 0)
        let v6 = echo.request(ipv6: true)
        // The kernel computes ICMPv6 checksums on raw sockets.
        #expect(Array(v6[0...3]) == [128, 0, 0, 0])
        #expect(Array(v6[4...]) == [0x12, 0x34, 0xBE, 0xEF, 1, 2, 3])
    }

    @Test func checksumMatchesRFC1071sExample() {
        // RFC 1071 section 3: the sum of 0001 f203 f4f5 f6f7 is ddf2, so the checksum is 220d.
        #expect(ICMPEcho.checksum([0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]) == 0x220D)
        #expect(ICMPEcho.checksum([0xFF]) == 0x00FF)
    }

    @Test func repliesAreReadBehindTheIPv4HeaderAndAsICMPv6() {
        let echo = ICMPEcho(identifier: 7, sequence: 9, payload: [0xAA])
        #expect(ICMPEcho.reply(in: Self.ipv4(Self.reply(from: echo.request(ipv6: false), type: 0)), ipv6: false) == echo)
        #expect(ICMPEcho.reply(in: Self.ipv4(Self.reply(from: echo.request(ipv6: false), type: 0), headerWords: 6),
                               ipv6: false) == echo)
        var v6 = echo.request(ipv6: true)
        v6[0] = 129
        #expect(ICMPEcho.reply(in: v6, ipv6: true) == echo)
    }

    @Test func anythingButAnIntactEchoReplyIsIgnored() {
        let request = ICMPEcho(identifier: 7, sequence: 9).request(ipv6: false)
        #expect(ICMPEcho.reply(in: Self.ipv4(request), ipv6: false) == nil)  // a request, not a reply
        var corrupt = Self.reply(from: request, type: 0)
        corrupt[7] ^= 1
        #expect(ICMPEcho.reply(in: Self.ipv4(corrupt), ipv6: false) == nil)  // bad checksum
        #expect(ICMPEcho.reply(in: Self.ipv4(Array(Self.reply(from: request, type: 0).prefix(7))), ipv6: false) == nil)
        #expect(ICMPEcho.reply(in: [0x45], ipv6: false) == nil)
        #expect(ICMPEcho.reply(in: [0x44] + [UInt8](repeating: 0, count: 40), ipv6: false) == nil)  // IHL below 5
        #expect(ICMPEcho.reply(in: [0x60] + [UInt8](repeating: 0, count: 40), ipv6: false) == nil)  // not IPv4
        #expect(ICMPEcho.reply(in: [129, 0, 0, 0, 0, 7, 0], ipv6: true) == nil)
        #expect(ICMPEcho.reply(in: [], ipv6: true) == nil)
    }

    @Test func randomInputNeverCrashes() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<100_000 {
            let bytes = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = ICMPEcho.reply(in: bytes, ipv6: false)
            _ = ICMPEcho.reply(in: bytes, ipv6: true)
        }
    }
}

@Suite struct TunnelProbeBookTests {
    static func key(_ n: UInt8) -> PublicKey { PublicKey(bytes: [UInt8](repeating: n, count: 32))! }
    let a = TunnelProbeBook.Target(peer: key(1), address: IPAddress("10.1.0.1")!, endpoint: Endpoint("198.51.100.1:51820")!)
    let b = TunnelProbeBook.Target(peer: key(2), address: IPAddress("10.1.0.2")!, endpoint: Endpoint("198.51.100.2:51820")!)

    @Test func eachPeerIsProbedOncePerIntervalAndTheReplyGivesItsRTT() {
        var book = TunnelProbeBook(interval: 10, timeout: 2)
        let first = book.due([a, b], now: 100)
        #expect(first.map(\.0) == [a, b])
        #expect(Set(first.map(\.1)).count == 2)
        #expect(book.due([a, b], now: 105).isEmpty)
        #expect(book.nextDeadline([a, b]) == 102)  // the outstanding probes' timeout comes first
        let outcome = book.reply(sequence: first[0].1, from: a.address, now: 100.025)
        #expect(outcome?.peer == a.peer && outcome?.endpoint == a.endpoint)
        #expect(abs((outcome?.rtt ?? 0) - 0.025) < 1e-9)
        #expect(book.reply(sequence: first[0].1, from: a.address, now: 100.03) == nil)  // a duplicate
        #expect(book.reply(sequence: first[1].1, from: a.address, now: 100.03) == nil)  // b's probe, from a's address
        #expect(book.due([a, b], now: 110).map(\.0) == [a])  // b's probe is still outstanding
    }

    @Test func lossCountsOnlyForPeersThatAnsweredBefore() {
        var book = TunnelProbeBook(interval: 10, timeout: 2)
        let first = book.due([a, b], now: 0)
        _ = book.reply(sequence: first[0].1, from: a.address, now: 0.01)
        // b never answered: it may drop ICMP, so its silence is not loss.
        #expect(book.expire(now: 1.9).isEmpty)
        #expect(book.expire(now: 2).isEmpty)
        let second = book.due([a, b], now: 10)
        #expect(second.count == 2)
        let lost = book.expire(now: 12)
        #expect(lost == [TunnelProbeBook.Outcome(peer: a.peer, endpoint: a.endpoint, rtt: nil)])
        #expect(lost.allSatisfy { $0.lost })
        // A reply after the timeout is too late to count.
        #expect(book.reply(sequence: second[0].1, from: a.address, now: 12.5) == nil)
    }

    /// Answering is the peer's: one that left the targets (a relayed peer on the relay's proxy)
    /// and comes back (onto a channel) is probed at once, and its lost probes count, for
    /// `answerMemory` after its last answer; after that it starts over.
    @Test func peersThatLeaveTheTargetsAreStillKnownToAnswer() {
        var book = TunnelProbeBook(interval: 10, timeout: 2)
        let first = book.due([a], now: 0)
        _ = book.reply(sequence: first[0].1, from: a.address, now: 0.01)
        #expect(book.due([], now: 1).isEmpty)
        let again = book.due([a], now: 60)
        #expect(again.count == 1)
        #expect(book.expire(now: 62) == [TunnelProbeBook.Outcome(peer: a.peer, endpoint: a.endpoint, rtt: nil)])
        #expect(book.due([], now: 63).isEmpty)
        let late = book.due([a], now: TunnelProbeBook.answerMemory + 1)
        #expect(late.count == 1)
        #expect(book.expire(now: TunnelProbeBook.answerMemory + 3).isEmpty)
    }

    /// A suspect path (`urgent`): a probe every 0.3 s, three out at once, each lost after 1 s.
    @Test func anUrgentTargetIsProbedInABurstWithAShortTimeout() {
        var book = TunnelProbeBook(interval: 10, timeout: 2)
        let first = book.due([a], now: 0)
        _ = book.reply(sequence: first[0].1, from: a.address, now: 0.01)
        var urgent = a
        urgent.urgent = true
        #expect(book.due([urgent], now: 1).count == 1)
        #expect(book.due([urgent], now: 1.2).isEmpty)
        #expect(book.nextDeadline([urgent]) == 1 + TunnelProbeBook.urgentInterval)
        #expect(book.due([urgent], now: 1.3).count == 1)
        #expect(book.due([urgent], now: 1.6).count == 1)
        #expect(book.due([urgent], now: 1.9).isEmpty)  // three outstanding
        #expect(book.expire(now: 1.99).isEmpty)
        #expect(book.expire(now: 2).count == 1)
        #expect(book.due([urgent], now: 2).count == 1)
        #expect(book.expire(now: 2.6).count == 2)
        // Back to normal: the next regular probe waits for the interval.
        #expect(book.due([a], now: 3).isEmpty)
    }
}
