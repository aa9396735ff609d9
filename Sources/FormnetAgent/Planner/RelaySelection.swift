import FormnetKit
import RelayClient
import WireGuard

/// Which relay is home, and which come next if it fails.
///
/// Ranking, first rule that separates two relays wins:
/// 1. healthy relays before unhealthy ones (an unhealthy relay stopped answering pings);
/// 2. relays with a measured RTT before relays without: a measurement beats an estimate;
///    among measured relays the lower smoothed RTT (`smoothedRTT`: three pongs) ranks first.
///    Except that an unmeasured relay whose distance puts its round trip (at light's speed in
///    fibre, `kilometresPerMillisecond`) more than 50 ms and three times below a measured
///    relay's RTT ranks ahead of that relay: only registered relays are measured, and a relay
///    in another region measured on demand, or the few relays known when the member started,
///    must not keep a near relay out of the standing set for good;
/// 3. among unmeasured relays, when this host's location is known, located relays by
///    great-circle distance from it, nearest first, then relays whose location is unknown;
/// 4. RTTs within 1 ms are ties, which distance breaks where it is known (a relay near in
///    space stays the better bet when RTTs look alike: on a quiet network every relay answers
///    within a millisecond, and a far relay measured on demand must not take a near one's
///    place); distances within 50 km are ties, which the load ratio (load / capacity, lower
///    first, unknown last) breaks: such small differences are noise, a busy relay is not.
///    Ties are measured from the best relay of each tier, so that the order stays total;
/// 5. the relay key, so that the same inputs always give the same order.
///
/// Home, with hysteresis so that two relays of similar RTT do not make it flap:
/// - no current home, or it is gone or unhealthy: the first ranked relay, at once;
/// - both RTTs known: switch only when the best is more than 10 ms AND more than 1/3 faster
///   than the current home (the rule Tailscale's and iroh's relay choice uses);
/// - otherwise, when both distances are known: switch only when the best is nearer by more
///   than 100 km AND by more than 1/3 of the current home's distance;
/// - otherwise keep the current home: there is nothing to compare it with.
///
/// The standing set (the few relays registered with, `standing`) has the same hysteresis: a
/// relay in it stays while it is healthy unless one outside is better by the home's rule. Each
/// change of the set closes a registration and opens another, and the peers routed through the
/// closed one move; within a region every relay answers within a millisecond or so, and without
/// it the order of the runners-up changed with every RTT sample and load report (three regions
/// in the lab: a member re-registered 700 times a minute and its pairs took 14 s to connect).
public enum RelaySelection {
    public static let rttTieMilliseconds = 1.0
    public static let distanceTieKilometres = 50.0
    public static let switchMinimumRTTGainMilliseconds = 10.0
    public static let switchMinimumDistanceGainKilometres = 100.0
    public static let switchMinimumGainFraction = 1.0 / 3.0
    public static let smoothingWindow = 3
    /// Round-trip distance light covers in fibre per millisecond: a lower bound of any RTT.
    public static let kilometresPerMillisecond = 100.0
    public static let estimateMarginMilliseconds = 50.0
    public static let estimateMarginFactor = 3.0

    public struct Candidate: Sendable, Equatable {
        public var key: PublicKey
        public var location: GeoLocation?
        /// Smoothed (`smoothedRTT`), nil until three pings were answered.
        public var rttMilliseconds: Double?
        public var load: Int?
        public var capacity: Int?
        public var healthy: Bool

        public init(key: PublicKey, location: GeoLocation? = nil, rttMilliseconds: Double? = nil,
                    load: Int? = nil, capacity: Int? = nil, healthy: Bool = true) {
            self.key = key
            self.location = location
            self.rttMilliseconds = rttMilliseconds
            self.load = load
            self.capacity = capacity
            self.healthy = healthy
        }

        public var loadRatio: Double? {
            guard let load, let capacity, capacity > 0 else { return nil }
            return Double(load) / Double(capacity)
        }
    }

    public struct Outcome: Sendable, Equatable {
        /// Every candidate, best first: the order in which to fall back.
        public var ranked: [PublicKey]
        /// Nil only when there is no candidate.
        public var home: PublicKey?

        public init(ranked: [PublicKey], home: PublicKey?) {
            self.ranked = ranked
            self.home = home
        }
    }

    public static func choose(_ candidates: [Candidate], ownLocation: GeoLocation?, currentHome: PublicKey?) -> Outcome {
        let ranked = rank(candidates, ownLocation: ownLocation)
        guard let best = ranked.first else { return Outcome(ranked: [], home: nil) }
        guard let current = candidates.first(where: { $0.key == currentHome }), current.healthy,
              !shouldSwitch(from: current, to: best, ownLocation: ownLocation) else {
            return Outcome(ranked: ranked.map(\.key), home: best.key)
        }
        return Outcome(ranked: ranked.map(\.key), home: current.key)
    }

    /// The `count` relays to keep registrations with, home first, then in `ranked` order. A
    /// relay of `current` that is healthy stays unless one outside it is better by the home's
    /// switch rule than the worst one kept; free places go to the best-ranked relays.
    public static func standing(_ candidates: [Candidate], ranked: [PublicKey], home: PublicKey?, current: Set<PublicKey>,
                                count: Int, ownLocation: GeoLocation?) -> [PublicKey] {
        let byKey = Dictionary(candidates.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        let position = Dictionary(ranked.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        var kept = ranked.filter { key in key == home || (current.contains(key) && byKey[key]?.healthy == true) }
        func byRank() { kept.sort { (position[$0] ?? .max) < (position[$1] ?? .max) } }
        while kept.count > count, let worst = kept.lastIndex(where: { $0 != home }) { kept.remove(at: worst) }
        for key in ranked where !kept.contains(key) {
            if kept.count < count {
                kept.append(key)
                byRank()
                continue
            }
            guard let worst = kept.lastIndex(where: { $0 != home }), let candidate = byKey[key], candidate.healthy,
                  let incumbent = byKey[kept[worst]], shouldSwitch(from: incumbent, to: candidate, ownLocation: ownLocation) else { continue }
            kept.remove(at: worst)
            kept.append(key)
            byRank()
        }
        return (home.map { [$0] } ?? []) + kept.filter { $0 != home }
    }

    public static func rank(_ candidates: [Candidate], ownLocation: GeoLocation?) -> [Candidate] {
        let byKey = candidates.sorted { $0.key.base64 < $1.key.base64 }
        func order(_ group: [Candidate]) -> [Candidate] {
            let measured = group.compactMap { candidate in candidate.rttMilliseconds.map { (candidate, $0) } }
            let unmeasured = group.filter { $0.rttMilliseconds == nil }
            return merged(measured: tiered(measured, tolerance: rttTieMilliseconds, within: nearestFirst),
                          unmeasured: nearestFirst(unmeasured))
        }
        /// Each unmeasured relay (nearest first) goes ahead of the first measured relay whose RTT
        /// is far above the unmeasured one's bound at light's speed; the rest after all measured ones.
        func merged(measured: [Candidate], unmeasured: [Candidate]) -> [Candidate] {
            var result: [Candidate] = []
            var pending = unmeasured[...]
            for candidate in measured {
                while let next = pending.first, let rtt = candidate.rttMilliseconds,
                      let distance = ownLocation.flatMap({ own in next.location.map { own.distance(to: $0) } }) {
                    let bound = distance / kilometresPerMillisecond
                    guard rtt - bound > estimateMarginMilliseconds, rtt > bound * estimateMarginFactor else { break }
                    result.append(next)
                    pending.removeFirst()
                }
                result.append(candidate)
            }
            return result + pending
        }
        func nearestFirst(_ group: [Candidate]) -> [Candidate] {
            let located = group.compactMap { candidate in
                ownLocation.flatMap { own in candidate.location.map { (candidate, own.distance(to: $0)) } }
            }
            let unlocated = group.filter { ownLocation == nil || $0.location == nil }
            return tiered(located, tolerance: distanceTieKilometres, within: byLoad) + byLoad(unlocated)
        }
        return order(byKey.filter(\.healthy)) + order(byKey.filter { !$0.healthy })
    }

    /// The median of the last three samples; nil until there are three. One late pong, a
    /// scheduling hiccup or a queue burst on the path, must not move the home relay, and a median
    /// ignores a single outlier where a mean would not; a short window still shows a real change
    /// of path after two samples, which a long average would hide for many pings.
    ///
    /// Fewer than three samples are no measurement: the first pong, sent as the registration
    /// completes while everything else starts too, is the likeliest outlier of all, and alone it
    /// would count as the RTT and could take the home away from the nearest relay at once (seen
    /// in the lab: 25 ms for a relay that answers in 1 ms). Until then distance ranks the relay.
    ///
    /// `minimumSamples` is for series whose every value is already a measurement (the relay
    /// registry records smoothed RTTs): there one value is enough, and two give their mean.
    public static func smoothedRTT(_ samples: [Double], minimumSamples: Int = smoothingWindow) -> Double? {
        guard samples.count >= minimumSamples else { return nil }
        return RelayLinkMachine.smoothedRTT(samples, window: smoothingWindow)
    }

    private static func shouldSwitch(from current: Candidate, to best: Candidate, ownLocation: GeoLocation?) -> Bool {
        guard best.key != current.key else { return false }
        if let currentRTT = current.rttMilliseconds, let bestRTT = best.rttMilliseconds {
            let gain = currentRTT - bestRTT
            return gain > switchMinimumRTTGainMilliseconds && gain > currentRTT * switchMinimumGainFraction
        }
        guard let ownLocation, let currentLocation = current.location, let bestLocation = best.location else { return false }
        let currentDistance = ownLocation.distance(to: currentLocation)
        let gain = currentDistance - ownLocation.distance(to: bestLocation)
        return gain > switchMinimumDistanceGainKilometres && gain > currentDistance * switchMinimumGainFraction
    }

    /// Sorted by their metric, cut into tiers of relays within `tolerance` of each tier's first,
    /// each tier then ordered by `within`.
    private static func tiered(_ measured: [(Candidate, Double)], tolerance: Double,
                               within: ([Candidate]) -> [Candidate]) -> [Candidate] {
        var tiers: [[(Candidate, Double)]] = []
        for entry in measured.sorted(by: { $0.1 < $1.1 }) {
            if let leader = tiers.last?.first, entry.1 - leader.1 <= tolerance {
                tiers[tiers.count - 1].append(entry)
            } else {
                tiers.append([entry])
            }
        }
        return tiers.flatMap { within($0.map(\.0)) }
    }

    /// Stable, so relays of equal load keep the order they came in (by metric, then key).
    private static func byLoad(_ candidates: [Candidate]) -> [Candidate] {
        candidates.sorted { a, b in
            switch (a.loadRatio, b.loadRatio) {
            case (let x?, let y?): return x < y
            case (.some, nil): return true
            default: return false
            }
        }
    }
}
