import WireGuard

/// The order in which a peer's candidates are tried: what is most likely to work first.
public enum CandidateOrdering {
    /// - Parameters:
    ///   - candidates: everything known for the peer (server-reflexive, override, host addresses).
    ///   - cache: what worked and failed before, per endpoint.
    ///   - samePublicAddress: both members are seen at one public address (one NAT, one LAN):
    ///     their private addresses reach each other directly, without hairpinning.
    ///   - excluded: networks never to try (--exclude-nat-candidates).
    ///   - now: seconds since 1970, for the recency of cached results.
    public static func order(_ candidates: [Candidate], cache: [Endpoint: EndpointStats] = [:],
                             samePublicAddress: Bool = false, excluded: [IPNetwork] = [],
                             now: Double = 0) -> [Candidate] {
        var seen = Set<Endpoint>()
        let usable = candidates.filter { candidate in
            guard candidate.kind != .relayed, seen.insert(candidate.endpoint).inserted else { return false }
            return !excluded.contains { $0.contains(candidate.endpoint.address) }
        }
        func rank(_ c: Candidate) -> Int {
            switch c.kind {
            case .private: return samePublicAddress ? 0 : 4
            case .override: return 1
            case .serverReflexive: return 2
            case .public: return 3
            case .relayed: return 5
            }
        }
        return usable.enumerated().sorted { lhs, rhs in
            let a = cache[lhs.element.endpoint].map { $0.score(now: now) } ?? 0
            let b = cache[rhs.element.endpoint].map { $0.score(now: now) } ?? 0
            // A candidate that worked before goes first; one that only failed goes last.
            if (a > 0) != (b > 0) { return a > b }
            if a > 0 && b > 0 && a != b { return a > b }
            if (a < 0) != (b < 0) { return a > b }
            if rank(lhs.element) != rank(rhs.element) { return rank(lhs.element) < rank(rhs.element) }
            return lhs.offset < rhs.offset
        }.map(\.element)
    }
}
