import Testing
import WireGuard
@testable import FormnetAgent

@Suite struct PathWatchTests {
    static let channel = Endpoint("198.18.0.31:51900")!
    static let other = Endpoint("198.18.0.32:51901")!

    /// The watch's answers to a sequence of readings (endpoint, rx, tx, now), keepalive every 25 s.
    static func answers(_ readings: [(Endpoint, UInt64, UInt64, Double)], start: (rx: UInt64, tx: UInt64),
                        keepalive: UInt16 = 25) -> [Bool] {
        var watch = PathWatch(endpoint: channel, rx: start.rx, tx: start.tx, now: 0)
        return readings.map { watch.isSilent(endpoint: $0.0, rx: $0.1, tx: $0.2, keepalive: keepalive, now: $0.3) }
    }

    @Test func silentOnlyWhenSentAndNothingCameBackForThirtySeconds() {
        // Idle both ways for a minute; then a data packet sent with nothing back, 29.9 s and 30 s
        // after the start.
        #expect(Self.answers([(Self.channel, 100, 100, 60), (Self.channel, 100, 228, 29.9), (Self.channel, 100, 228, 30)],
                             start: (100, 100)) == [false, false, true])
    }

    /// The end of an idle pair whose keepalive timer fires first sends one every 25 s and hears
    /// nothing back, on a path that works: that is not silence.
    @Test func keepalivesAloneAreNotSilence() {
        #expect(Self.answers([
            (Self.channel, 0, 32, 25), (Self.channel, 0, 64, 50), (Self.channel, 0, 96, 75), (Self.channel, 0, 320, 300),
        ], start: (0, 0)) == [false, false, false, false])
        // One data packet (or handshake initiation) beyond them is.
        #expect(Self.answers([(Self.channel, 0, 96, 50), (Self.channel, 0, 96 + 148, 60)], start: (0, 0)) == [false, true])
        // Without a persistent keepalive, any sending counts.
        #expect(Self.answers([(Self.channel, 0, 32, 30)], start: (0, 0), keepalive: 0) == [true])
    }

    @Test func anythingReceivedOrAnotherEndpointStartsOver() {
        #expect(Self.answers([
            (Self.channel, 32, 64, 20),   // received: the clock restarts at 20 with tx 64
            (Self.channel, 32, 200, 49),
            (Self.channel, 32, 200, 50),  // sent since 20 (more than keepalives), nothing back for 30 s
            (Self.other, 32, 200, 51),    // another endpoint: starts over at 51
            (Self.other, 32, 400, 80),
            (Self.other, 32, 400, 81),
        ], start: (0, 0)) == [false, false, true, false, false, true])
    }
}
