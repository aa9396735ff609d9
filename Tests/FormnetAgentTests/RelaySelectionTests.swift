import FormnetKit
import Testing
import WireGuard
@testable import FormnetAgent

@Suite struct RelaySelectionTests {
    typealias Candidate = RelaySelection.Candidate
    static func key(_ n: Int) -> PublicKey { PublicKey(bytes: [UInt8](repeating: UInt8(n), count: 32))! }

    static let frankfurt = GeoLocation(latitude: 50.1109, longitude: 8.6821)
    static let paris = GeoLocation(latitude: 48.8566, longitude: 2.3522)
    static let newYork = GeoLocation(latitude: 40.7128, longitude: -74.0060)
    static let tokyo = GeoLocation(latitude: 35.6762, longitude: 139.6503)

    /// On the equator, `degrees` east of (0, 0): about 111.2 km a degree.
    static func east(_ degrees: Double) -> GeoLocation { GeoLocation(latitude: 0, longitude: degrees) }
    static let origin = east(0)

    @Test func nearestWinsBeforeAnyRTT() {
        let candidates = [
            Candidate(key: Self.key(1), location: Self.tokyo),
            Candidate(key: Self.key(2)),
            Candidate(key: Self.key(3), location: Self.paris),
            Candidate(key: Self.key(4), location: Self.newYork),
        ]
        let outcome = RelaySelection.choose(candidates, ownLocation: Self.frankfurt, currentHome: nil)
        #expect(outcome == RelaySelection.Outcome(ranked: [Self.key(3), Self.key(4), Self.key(1), Self.key(2)], home: Self.key(3)))
        // Without its own location the host cannot tell near from far: load, then key order.
        #expect(RelaySelection.choose(candidates, ownLocation: nil, currentHome: nil).ranked == [Self.key(1), Self.key(2), Self.key(3), Self.key(4)])
    }

    @Test func rttDecidesOnceKnown() {
        let candidates = [
            Candidate(key: Self.key(1), location: Self.paris),
            Candidate(key: Self.key(2), location: Self.tokyo, rttMilliseconds: 250),
            Candidate(key: Self.key(3), location: Self.newYork, rttMilliseconds: 90),
        ]
        let outcome = RelaySelection.choose(candidates, ownLocation: Self.frankfurt, currentHome: nil)
        // Paris, unmeasured, is 480 km away: at light's speed far more than 50 ms and three times
        // faster than New York's 90 ms, so it goes ahead of it (it may be what this member never
        // registered with); the measured ones keep their RTT order.
        #expect(outcome == RelaySelection.Outcome(ranked: [Self.key(1), Self.key(3), Self.key(2)], home: Self.key(1)))
        // Without that gap the measurements come first.
        var near = candidates
        near[2].rttMilliseconds = 40
        #expect(RelaySelection.rank(near, ownLocation: Self.frankfurt).map(\.key) == [Self.key(3), Self.key(1), Self.key(2)])
    }

    @Test func loadBreaksTies() {
        let byRTT = [
            Candidate(key: Self.key(1), rttMilliseconds: 20.0, load: 90, capacity: 100),
            Candidate(key: Self.key(2), rttMilliseconds: 20.8, load: 10, capacity: 100),
            Candidate(key: Self.key(3), rttMilliseconds: 20.5),
            Candidate(key: Self.key(4), rttMilliseconds: 21.5, load: 0, capacity: 100),
        ]
        // 1, 2 and 3 are within 1 ms of the best: load decides, unknown load last; 4 is 1.5 ms
        // slower than the best, so it comes after them whatever its load.
        #expect(RelaySelection.rank(byRTT, ownLocation: nil).map(\.key) == [Self.key(2), Self.key(1), Self.key(3), Self.key(4)])

        let byDistance = [
            Candidate(key: Self.key(1), location: Self.east(1.0), load: 80, capacity: 100),
            Candidate(key: Self.key(2), location: Self.east(1.3), load: 5, capacity: 10),
            Candidate(key: Self.key(3), location: Self.east(2.0), load: 0, capacity: 100),
        ]
        // 33 km apart: a tie; 111 km: not.
        #expect(RelaySelection.rank(byDistance, ownLocation: Self.origin).map(\.key) == [Self.key(2), Self.key(1), Self.key(3)])
    }

    /// On a quiet network every relay answers within a millisecond: distance, not load, decides
    /// between RTT-tied relays, so a far relay measured on demand does not displace a near one.
    @Test func distanceBreaksRTTTiesBeforeLoad() {
        let candidates = [
            Candidate(key: Self.key(1), location: Self.tokyo, rttMilliseconds: 0.4, load: 0, capacity: 100),
            Candidate(key: Self.key(2), location: Self.paris, rttMilliseconds: 0.6, load: 90, capacity: 100),
            Candidate(key: Self.key(3), location: Self.frankfurt, rttMilliseconds: 0.9, load: 50, capacity: 100),
            Candidate(key: Self.key(4), rttMilliseconds: 0.5, load: 0, capacity: 100),
        ]
        #expect(RelaySelection.rank(candidates, ownLocation: Self.frankfurt).map(\.key)
            == [Self.key(3), Self.key(2), Self.key(1), Self.key(4)])
        // A real difference in RTT still beats distance.
        var slower = candidates
        slower[2].rttMilliseconds = 30
        #expect(RelaySelection.rank(slower, ownLocation: Self.frankfurt).first?.key == Self.key(2))
    }

    /// Only registered relays are measured: a relay far away measured on demand (200 ms) must not
    /// keep a near relay nobody measured out of the standing set; a measured near one stays ahead.
    @Test func aNearUnmeasuredRelayGoesAheadOfAFarMeasuredOne() {
        let candidates = [
            Candidate(key: Self.key(1), location: Self.frankfurt, rttMilliseconds: 200),
            Candidate(key: Self.key(2), location: Self.tokyo, rttMilliseconds: 0.6),
            Candidate(key: Self.key(3), location: GeoLocation(latitude: 35.7, longitude: 139.7)),
            Candidate(key: Self.key(4)),
        ]
        #expect(RelaySelection.rank(candidates, ownLocation: Self.tokyo).map(\.key)
            == [Self.key(2), Self.key(3), Self.key(1), Self.key(4)])
        // 50 ms over light's bound is not enough alone: Frankfurt (9,300 km, >= 93 ms) measured at 120 ms
        // stays ahead of an unmeasured relay in New York (10,800 km).
        let far = [
            Candidate(key: Self.key(1), location: Self.frankfurt, rttMilliseconds: 120),
            Candidate(key: Self.key(2), location: Self.newYork),
        ]
        #expect(RelaySelection.rank(far, ownLocation: Self.tokyo).map(\.key) == [Self.key(1), Self.key(2)])
    }

    @Test func keepsHomeForASmallGain() {
        let candidates = [
            Candidate(key: Self.key(1), rttMilliseconds: 25),
            Candidate(key: Self.key(2), rttMilliseconds: 20),
        ]
        let outcome = RelaySelection.choose(candidates, ownLocation: nil, currentHome: Self.key(1))
        #expect(outcome == RelaySelection.Outcome(ranked: [Self.key(2), Self.key(1)], home: Self.key(1)))
    }

    @Test func switchesForALargeGain() {
        let candidates = [
            Candidate(key: Self.key(1), rttMilliseconds: 80),
            Candidate(key: Self.key(2), rttMilliseconds: 40),
        ]
        #expect(RelaySelection.choose(candidates, ownLocation: nil, currentHome: Self.key(1)).home == Self.key(2))
    }

    @Test func bothConditionsAreNeededToSwitch() {
        func home(current: Double, best: Double) -> PublicKey? {
            RelaySelection.choose([Candidate(key: Self.key(1), rttMilliseconds: current), Candidate(key: Self.key(2), rttMilliseconds: best)],
                                  ownLocation: nil, currentHome: Self.key(1)).home
        }
        #expect(home(current: 200, best: 180) == Self.key(1))  // 20 ms, but 10 %
        #expect(home(current: 12, best: 3) == Self.key(1))     // 75 %, but 9 ms
        #expect(home(current: 200, best: 130) == Self.key(2))  // 70 ms and 35 %
        #expect(home(current: 30, best: 19) == Self.key(2))    // 11 ms and 37 %
    }

    @Test func distanceHysteresisBeforeRTT() {
        func home(current: Double, best: Double) -> PublicKey? {
            RelaySelection.choose([Candidate(key: Self.key(1), location: Self.east(current)), Candidate(key: Self.key(2), location: Self.east(best))],
                                  ownLocation: Self.origin, currentHome: Self.key(1)).home
        }
        #expect(home(current: 9, best: 7) == Self.key(1))      // 222 km nearer of 1000: under 1/3
        #expect(home(current: 9, best: 5) == Self.key(2))      // 445 km nearer of 1000
        #expect(home(current: 1.2, best: 0.5) == Self.key(1))  // 58 % nearer, but 78 km
        #expect(home(current: 1.5, best: 0.2) == Self.key(2))  // 145 km and 87 %
        // No distance to compare (the home's location is unknown): keep it.
        let unlocatedHome = [Candidate(key: Self.key(1)), Candidate(key: Self.key(2), location: Self.east(0.1))]
        #expect(RelaySelection.choose(unlocatedHome, ownLocation: Self.origin, currentHome: Self.key(1)).home == Self.key(1))
    }

    @Test func unhealthyOrMissingHomeIsReplacedAtOnce() {
        let candidates = [
            Candidate(key: Self.key(1), rttMilliseconds: 5, healthy: false),
            Candidate(key: Self.key(2), rttMilliseconds: 19),
            Candidate(key: Self.key(3), rttMilliseconds: 18.5, load: 1, capacity: 10),
        ]
        let outcome = RelaySelection.choose(candidates, ownLocation: nil, currentHome: Self.key(1))
        #expect(outcome == RelaySelection.Outcome(ranked: [Self.key(3), Self.key(2), Self.key(1)], home: Self.key(3)))
        #expect(RelaySelection.choose(candidates, ownLocation: nil, currentHome: Self.key(9)).home == Self.key(3))
        #expect(RelaySelection.choose([], ownLocation: nil, currentHome: Self.key(1)) == RelaySelection.Outcome(ranked: [], home: nil))
    }

    @Test func unhealthyRelaysComeLast() {
        let candidates = [
            Candidate(key: Self.key(1), location: Self.paris, rttMilliseconds: 1, healthy: false),
            Candidate(key: Self.key(2)),
            Candidate(key: Self.key(3), location: Self.tokyo, healthy: false),
            Candidate(key: Self.key(4), location: Self.newYork),
        ]
        #expect(RelaySelection.rank(candidates, ownLocation: Self.frankfurt).map(\.key) == [Self.key(4), Self.key(2), Self.key(1), Self.key(3)])
        // Even when every relay failed there is a best guess.
        let allDown = candidates.map { var c = $0; c.healthy = false; return c }
        #expect(RelaySelection.choose(allDown, ownLocation: Self.frankfurt, currentHome: nil).home == Self.key(1))
    }

    @Test func orderDoesNotDependOnInputOrder() {
        let candidates = (1...12).map { n in
            Candidate(key: Self.key(n), location: n % 3 == 0 ? nil : Self.east(Double(n % 4) * 0.2),
                      rttMilliseconds: n % 2 == 0 ? Double(n % 5) * 0.7 : nil, load: n % 4, capacity: n % 5 == 0 ? nil : 10,
                      healthy: n != 7)
        }
        let expected = RelaySelection.rank(candidates, ownLocation: Self.origin)
        #expect(RelaySelection.rank(candidates.reversed(), ownLocation: Self.origin) == expected)
        #expect(RelaySelection.rank(candidates.shuffled(), ownLocation: Self.origin) == expected)
    }

    /// The lab case: the nearest relay's first pong came back late (25 ms, the path warming up)
    /// while a far relay's came back in 1.7 ms. One pong is no measurement, so the nearest keeps
    /// the home; three pongs are, and a relay that stays slow then loses it.
    @Test func firstPongDoesNotTakeTheHomeFromTheNearest() {
        func home(near: [Double], far: [Double]) -> PublicKey? {
            RelaySelection.choose([
                Candidate(key: Self.key(1), location: Self.frankfurt, rttMilliseconds: RelaySelection.smoothedRTT(near)),
                Candidate(key: Self.key(2), location: Self.tokyo, rttMilliseconds: RelaySelection.smoothedRTT(far)),
            ], ownLocation: Self.frankfurt, currentHome: Self.key(1)).home
        }
        #expect(home(near: [25], far: [1.7]) == Self.key(1))
        #expect(home(near: [25, 1], far: [1.7, 0.3]) == Self.key(1))
        #expect(home(near: [25, 1, 1.1], far: [1.7, 0.3, 0.4]) == Self.key(1))
        #expect(home(near: [1, 1.1, 80, 81], far: [0.3, 0.4, 0.3, 0.4]) == Self.key(2))
    }

    /// Three regions in the lab: eight relays within a millisecond of each other, whose RTT
    /// order and loads changed with every sample, re-registered a member 700 times a minute.
    @Test func standingSetKeepsItsRelaysThroughNoise() {
        func standing(_ rtts: [Double], loads: [Int], current: Set<PublicKey>) -> [PublicKey] {
            let candidates = rtts.indices.map { i in
                Candidate(key: Self.key(i + 1), location: Self.east(Double(i) * 0.1), rttMilliseconds: rtts[i],
                          load: loads[i], capacity: 100)
            }
            let outcome = RelaySelection.choose(candidates, ownLocation: Self.origin, currentHome: Self.key(1))
            return RelaySelection.standing(candidates, ranked: outcome.ranked, home: outcome.home, current: current,
                                           count: 4, ownLocation: Self.origin)
        }
        let first = standing([0.4, 0.5, 0.6, 0.7, 0.8, 0.9], loads: [1, 1, 1, 1, 1, 1], current: [])
        #expect(first == [Self.key(1), Self.key(2), Self.key(3), Self.key(4)])
        // 5 and 6 now rank ahead of 3 and 4 (lower RTT, lower load): within noise, nothing moves.
        let noisy = standing([0.4, 1.9, 1.6, 1.7, 0.2, 0.3], loads: [1, 9, 9, 9, 0, 0], current: Set(first))
        #expect(noisy == first)
    }

    @Test func standingSetReplacesUnhealthyAndMuchWorseRelays() {
        let keys = (1...6).map(Self.key)
        var candidates = keys.enumerated().map { i, key in Candidate(key: key, rttMilliseconds: 20 + Double(i)) }
        let current: Set<PublicKey> = Set(keys.prefix(4))
        func standing() -> [PublicKey] {
            let outcome = RelaySelection.choose(candidates, ownLocation: nil, currentHome: keys[0])
            return RelaySelection.standing(candidates, ranked: outcome.ranked, home: outcome.home, current: current,
                                           count: 4, ownLocation: nil)
        }
        #expect(standing() == Array(keys.prefix(4)))
        // 3 stops answering: the best relay outside (5) takes its place.
        candidates[2].healthy = false
        #expect(standing() == [keys[0], keys[1], keys[3], keys[4]])
        candidates[2].healthy = true
        // 4 becomes 40 ms slower: 5, at 24 ms, is more than 10 ms and a third faster.
        candidates[3].rttMilliseconds = 63
        #expect(standing() == [keys[0], keys[1], keys[2], keys[4]])
        // ... but 5 ms slower is not enough.
        candidates[3].rttMilliseconds = 28
        #expect(standing() == Array(keys.prefix(4)))
    }

    /// A new home is always in the set, first, even when the old set did not hold it.
    @Test func standingSetHoldsTheHomeFirst() {
        let keys = (1...5).map(Self.key)
        let candidates = keys.enumerated().map { i, key in Candidate(key: key, rttMilliseconds: Double(10 * (i + 1))) }
        let set = RelaySelection.standing(candidates, ranked: keys, home: keys[4], current: Set(keys.prefix(4)),
                                          count: 3, ownLocation: nil)
        #expect(set == [keys[4], keys[0], keys[1]])
    }

    @Test func smoothing() {
        #expect(RelaySelection.smoothedRTT([]) == nil)
        // One or two pongs are no measurement yet: the first may be the outlier.
        #expect(RelaySelection.smoothedRTT([10]) == nil)
        #expect(RelaySelection.smoothedRTT([25, 1]) == nil)
        // Series of measurements (the registry's): one is enough, two give their mean.
        #expect(RelaySelection.smoothedRTT([10], minimumSamples: 1) == 10)
        #expect(RelaySelection.smoothedRTT([10, 20], minimumSamples: 1) == 15)
        #expect(RelaySelection.smoothedRTT([10, 200, 12]) == 12)
        #expect(RelaySelection.smoothedRTT([1, 2, 3, 100, 11, 12]) == 12)
        #expect(RelaySelection.smoothedRTT([20, 20, 20, 50, 50]) == 50)
    }
}
