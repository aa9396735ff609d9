import Testing
import WireGuard
@testable import FormnetAgent

@Suite struct PathWatchTests {
    static let channel = Endpoint("198.18.0.31:51900")!
    static let other = Endpoint("198.18.0.32:51901")!

    /// The watch's answers to a sequence of readings (endpoint, rx, tx, now).
    static func answers(_ readings: [(Endpoint, UInt64, UInt64, Double)], start: (rx: UInt64, tx: UInt64)) -> [Bool] {
        var watch = PathWatch(endpoint: channel, rx: start.rx, tx: start.tx, now: 0)
        return readings.map { watch.isSilent(endpoint: $0.0, rx: $0.1, tx: $0.2, now: $0.3) }
    }

    @Test func silentOnlyWhenSentAndNothingCameBackForThirtySeconds() {
        // Idle both ways for a minute; then sent with nothing back, 29.9 s and 30 s after the start.
        #expect(Self.answers([(Self.channel, 100, 100, 60), (Self.channel, 100, 132, 29.9), (Self.channel, 100, 132, 30)],
                             start: (100, 100)) == [false, false, true])
    }

    @Test func anythingReceivedOrAnotherEndpointStartsOver() {
        #expect(Self.answers([
            (Self.channel, 32, 64, 20),   // received: the clock restarts at 20 with tx 64
            (Self.channel, 32, 96, 49),
            (Self.channel, 32, 96, 50),   // sent since 20, nothing back for 30 s
            (Self.other, 32, 96, 51),     // another endpoint: starts over at 51
            (Self.other, 32, 128, 80),
            (Self.other, 32, 128, 81),
        ], start: (0, 0)) == [false, false, true, false, false, true])
    }
}
