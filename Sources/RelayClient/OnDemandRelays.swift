import WireGuard

/// Registrations the engine makes for its routes rather than for this member (ADR 0011).
///
/// A member keeps standing registrations with the few relays nearest to it; a peer far away
/// keeps its own near itself, and the two sets may not meet. A route whose peer reports no relay
/// that this member is usable on registers on demand with the first of the peer's relays (its
/// home, unless that failed), as a Tailscale client connects to a peer's home DERP region. Of a
/// pair, the end that follows (`PairRoles.follows`) needs none while its peer's packets arrive
/// through a relay it holds: the other end registered with this end's relay, and the pair meets
/// there. A registration no route has wanted for `linger` is closed.
///
/// No system calls: `EngineState` opens and closes the links this answers.
struct OnDemandRelays {
    /// An unwanted on-demand registration stays this long: a route that goes back to the relay
    /// within it (a direct path that failed again, a peer that re-reports its relays) finds it up.
    static let linger = 60.0
    /// A relay that has not become usable this long after it was asked for (or after it stopped
    /// answering) counts as failed for `failedHold`: the next of the peer's relays is tried.
    /// Registration over a 300 ms path with a cookie round takes about a second.
    static let giveUpAfter = 5.0
    static let failedHold = 30.0
    /// On-demand registrations at most, on top of the standing ones: each costs the relay a
    /// session-table entry and this member a ping a second. Routes share them (`wanted` picks a
    /// relay already held when the peer has one), so this is how many distinct relays the
    /// relayed peers of one member may need at once: with three regions of eight relays, a
    /// member with eleven relayed peers needed nine.
    static let maxLinks = 16

    /// On-demand relays, and when a route last wanted each.
    private(set) var wantedAt: [PublicKey: Double] = [:]
    /// When each on-demand relay was last seen not usable, while it is not (cleared once it is).
    private var unusableSince: [PublicKey: Double] = [:]
    /// Relays given up on, and when.
    private(set) var failed: [PublicKey: Double] = [:]
    /// Relays that were standing and stayed on demand because a route went through them (`adopt`).
    private(set) var adopted: Set<PublicKey> = []
    /// Relays routes wanted in the last pass that `maxLinks` kept this member from registering with.
    private(set) var unserved: [PublicKey] = []
    /// The peers whose routes wanted each relay in the last pass: what keeps it open.
    private(set) var wantedBy: [PublicKey: [PublicKey]] = [:]

    func contains(_ relay: PublicKey) -> Bool { wantedAt[relay] != nil }

    /// The relay `route` needs a registration with that it has not, if any: one of the peer's
    /// relays this member already holds on demand (one link serves every peer registered there),
    /// else the first of them that has not failed.
    func wanted<Link: RouteLink>(by route: Route, links: [PublicKey: Link], standing: Set<PublicKey>,
                                 known: some Collection<PublicKey>, now: Double) -> PublicKey? {
        guard !route.peerRelays.isEmpty else { return nil }
        func usable(_ key: PublicKey) -> Bool { links[key]?.isUsable(now: now) == true }
        func notFailed(_ key: PublicKey) -> Bool { failed[key].map { now - $0 >= Self.failedHold } ?? true }
        if route.peerRelays.contains(where: { standing.contains($0) && usable($0) }) { return nil }
        if route.followsPeer, let via = route.lastInboundVia, usable(via) {
            if standing.contains(via) { return nil }
            // A relay that left the standing set while the peer's packets arrive through it. Not
            // one this end opened for its own peer: the pair is to meet on this end's standing
            // relay, where the leader registers on demand (ADR 11), and it lingers out.
            if adopted.contains(via) { return via }
        }
        if let held = route.peerRelays.first(where: { contains($0) && notFailed($0) }) { return held }
        return route.peerRelays.first { key in !standing.contains(key) && known.contains(key) && notFailed(key) }
    }

    /// One pass over the routes: the relays to register with now, and the on-demand links to close
    /// (unwanted for `linger`, or failed and unwanted). A relay that became standing is no longer
    /// on demand; one that stopped being standing while a route wants it stays, on demand. At
    /// `maxLinks`, a link no route wants in this pass makes room for one that a route does.
    /// `known` is tested for membership only (a set, or a dictionary's keys).
    mutating func update<Link: RouteLink>(routes: some Collection<Route>, links: [PublicKey: Link], standing: Set<PublicKey>,
                                          known: some Collection<PublicKey>, now: Double) -> (open: [PublicKey], close: [PublicKey]) {
        for key in wantedAt.keys where standing.contains(key) { forget(key) }
        failed = failed.filter { now - $0.value < Self.failedHold }
        for key in wantedAt.keys {
            if links[key]?.isUsable(now: now) == true {
                unusableSince[key] = nil
            } else if let since = unusableSince[key] {
                if now - since >= Self.giveUpAfter { failed[key] = now }
            } else {
                unusableSince[key] = now
            }
        }
        var missing: [PublicKey] = []
        wantedBy = [:]
        for route in routes {
            guard let key = wanted(by: route, links: links, standing: standing, known: known, now: now) else { continue }
            wantedBy[key, default: []].append(route.peer)
            if wantedAt[key] != nil {
                wantedAt[key] = now
            } else if !missing.contains(key) {
                missing.append(key)
            }
        }
        var open: [PublicKey] = []
        var close: [PublicKey] = []
        unserved = []
        for (index, key) in missing.enumerated() {
            if wantedAt.count >= Self.maxLinks {
                guard let idle = wantedAt.filter({ $0.value < now }).min(by: { $0.value < $1.value })?.key else {
                    unserved = Array(missing[index...])
                    break
                }
                close.append(idle)
                forget(idle)
            }
            open.append(key)
            wantedAt[key] = now
            unusableSince[key] = now
        }
        for (key, at) in wantedAt where at < now && (now - at >= Self.linger || failed[key] != nil) {
            close.append(key)
            forget(key)
        }
        return (open, close)
    }

    /// A standing relay that left the standing set while a route goes through it: kept, on
    /// demand, while a route wants it (`wanted`), so that a pair relayed there does not lose its
    /// path whenever this member's ranking changes. False at `maxLinks`.
    mutating func adopt(_ relay: PublicKey, now: Double) -> Bool {
        guard wantedAt[relay] == nil else { return true }
        guard wantedAt.count < Self.maxLinks else { return false }
        wantedAt[relay] = now
        adopted.insert(relay)
        return true
    }

    /// A relay that became standing, or whose link closed.
    mutating func forget(_ relay: PublicKey) {
        wantedAt[relay] = nil
        unusableSince[relay] = nil
        adopted.remove(relay)
    }
}
