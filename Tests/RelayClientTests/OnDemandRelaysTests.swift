import Testing
@testable import RelayClient
import WireGuard

/// Registrations made for a route whose peer holds none of this member's relays (ADR 0011).
@Suite struct OnDemandRelaysTests {
    typealias FakeLink = RouteTableTests.FakeLink
    static let own = RouteTableTests.own
    static let t1 = RouteTableTests.key(0xA1)
    static let t2 = RouteTableTests.key(0xA2)
    static let f1 = RouteTableTests.key(0xB1)
    static let f2 = RouteTableTests.key(0xB2)
    static let f3 = RouteTableTests.key(0xB3)

    var table = RouteTable(publicKey: OnDemandRelaysTests.own)
    var onDemand = OnDemandRelays()
    let standing: Set<PublicKey> = [t1, t2]
    let known: Set<PublicKey> = [t1, t2, f1, f2, f3]
    var links: [PublicKey: FakeLink] = [t1: FakeLink(t1), t2: FakeLink(t2)]

    mutating func route(_ peer: PublicKey, peerRelays: [PublicKey]) -> Route {
        table.add(peer, descriptor: 3, proxy: RouteTableTests.proxy, preferences: peerRelays + Array(standing),
                  peerRelays: peerRelays, automatic: false, now: 0)
    }

    mutating func update(now: Double) -> (open: [PublicKey], close: [PublicKey]) {
        onDemand.update(routes: table.routes.values, links: links, standing: standing, known: known, now: now)
    }

    @Test mutating func registersWithThePeersHomeWhenNoRelayIsShared() {
        _ = route(RouteTableTests.greaterPeer, peerRelays: [Self.f1, Self.f2])
        #expect(update(now: 1) == ([Self.f1], []))
        #expect(onDemand.contains(Self.f1))
        // Opened once; the route keeps wanting it.
        links[Self.f1] = FakeLink(Self.f1)
        #expect(update(now: 2) == ([], []))
        #expect(update(now: 2 + OnDemandRelays.linger) == ([], []))
    }

    @Test mutating func noneWhileAPeerRelayIsStandingAndUsable() {
        _ = route(RouteTableTests.greaterPeer, peerRelays: [Self.f1, Self.t2])
        #expect(update(now: 1) == ([], []))
        // The shared relay stops answering: the peer's first other relay, on demand.
        links[Self.t2]?.usable = false
        #expect(update(now: 2) == ([Self.f1], []))
    }

    @Test mutating func theFollowingEndNeedsNoneWhileThePeersPacketsArriveThroughAStandingRelay() {
        let follower = route(RouteTableTests.lesserPeer, peerRelays: [Self.f1])
        #expect(follower.followsPeer)
        table.recordInbound(follower, via: Self.t1, now: 1)
        #expect(update(now: 1) == ([], []))
        links[Self.t1]?.usable = false
        #expect(update(now: 2) == ([Self.f1], []))
    }

    @Test mutating func aRelayThatDoesNotBecomeUsableIsGivenUpForTheNext() {
        _ = route(RouteTableTests.greaterPeer, peerRelays: [Self.f1, Self.f2])
        #expect(update(now: 0) == ([Self.f1], []))
        let f1 = FakeLink(Self.f1)
        f1.usable = false
        links[Self.f1] = f1
        #expect(update(now: OnDemandRelays.giveUpAfter - 0.1) == ([], []))
        #expect(update(now: OnDemandRelays.giveUpAfter) == ([Self.f2], [Self.f1]))
        #expect(onDemand.failed[Self.f1] == OnDemandRelays.giveUpAfter)
        links[Self.f1] = nil
        // Tried again once the hold is over (the next is not usable either by then).
        #expect(update(now: OnDemandRelays.giveUpAfter + 1).open.isEmpty)
        links[Self.f2] = FakeLink(Self.f2)
        links[Self.f2]?.usable = false
        let later = OnDemandRelays.giveUpAfter + OnDemandRelays.failedHold
        #expect(update(now: later).open == [Self.f1])
    }

    @Test mutating func closedALingerAfterTheLastRouteWantingItLeft() {
        _ = route(RouteTableTests.greaterPeer, peerRelays: [Self.f1])
        #expect(update(now: 1).open == [Self.f1])
        links[Self.f1] = FakeLink(Self.f1)
        _ = table.remove(RouteTableTests.greaterPeer)
        #expect(update(now: 1 + OnDemandRelays.linger - 0.1) == ([], []))
        #expect(update(now: 1 + OnDemandRelays.linger) == ([], [Self.f1]))
        #expect(!onDemand.contains(Self.f1))
    }

    @Test mutating func atMostMaxLinks() {
        let relays = (0..<(OnDemandRelays.maxLinks + 3)).map { RouteTableTests.key(UInt8(0xC0 + $0)) }
        for (index, relay) in relays.enumerated() {
            _ = table.add(RouteTableTests.key(UInt8(0x60 + index)), descriptor: 3, proxy: RouteTableTests.proxy,
                          preferences: [relay], peerRelays: [relay], automatic: false, now: 0)
        }
        let opened = onDemand.update(routes: table.routes.values, links: links, standing: standing,
                                     known: known.union(relays), now: 1).open
        #expect(opened.count == OnDemandRelays.maxLinks)
        #expect(onDemand.wantedAt.count == OnDemandRelays.maxLinks)
        #expect(onDemand.unserved.count == 3)
        #expect(Set(opened + onDemand.unserved) == Set(relays))
    }

    /// The lab's three regions: a member kept an unused registration from a minute before, at the
    /// limit, while a new peer's only relays were elsewhere; the pair took 53 s to connect.
    @Test mutating func anIdleRegistrationMakesRoomAtTheLimit() {
        let relays = (0..<OnDemandRelays.maxLinks).map { RouteTableTests.key(UInt8(0xC0 + $0)) }
        for (index, relay) in relays.enumerated() {
            _ = table.add(RouteTableTests.key(UInt8(0x60 + index)), descriptor: 3, proxy: RouteTableTests.proxy,
                          preferences: [relay], peerRelays: [relay], automatic: false, now: 0)
        }
        let all = known.union(relays)
        #expect(onDemand.update(routes: table.routes.values, links: links, standing: standing, known: all, now: 1).open.count == relays.count)
        for relay in relays { links[relay] = FakeLink(relay) }
        // The first peer leaves; a new one needs f1 while every place is taken.
        _ = table.remove(RouteTableTests.key(0x60))
        _ = route(RouteTableTests.greaterPeer, peerRelays: [Self.f1])
        #expect(onDemand.update(routes: table.routes.values, links: links, standing: standing, known: all, now: 2) == ([Self.f1], [relays[0]]))
        #expect(onDemand.unserved.isEmpty)
        #expect(onDemand.wantedAt.count == OnDemandRelays.maxLinks)
    }

    /// A peer whose relays include one held on demand for another peer needs no new registration.
    @Test mutating func routesShareAnOnDemandRelay() {
        _ = route(RouteTableTests.greaterPeer, peerRelays: [Self.f2])
        #expect(update(now: 1).open == [Self.f2])
        links[Self.f2] = FakeLink(Self.f2)
        _ = table.add(RouteTableTests.key(0xF0), descriptor: 4, proxy: RouteTableTests.proxy, preferences: [],
                      peerRelays: [Self.f1, Self.f2], automatic: false, now: 1)
        #expect(update(now: 2) == ([], []))
        #expect(onDemand.wantedAt.keys.sorted { $0.base64 < $1.base64 } == [Self.f2])
        // `list-relays` names both peers as what keeps it open.
        #expect(Set(onDemand.wantedBy[Self.f2] ?? []) == [RouteTableTests.greaterPeer, RouteTableTests.key(0xF0)])
        _ = table.remove(RouteTableTests.key(0xF0))
        _ = table.remove(RouteTableTests.greaterPeer)
        #expect(update(now: 3) == ([], []))
        #expect(onDemand.wantedBy[Self.f2] == nil)
    }

    @Test mutating func onlyKnownRelaysAndNoneForAutomaticRoutes() {
        let unknown = RouteTableTests.key(0xEE)
        _ = route(RouteTableTests.greaterPeer, peerRelays: [unknown, Self.f2])
        _ = table.add(RouteTableTests.key(0x99), descriptor: 4, proxy: RouteTableTests.proxy, preferences: [], automatic: true, now: 0)
        #expect(update(now: 1).open == [Self.f2])
    }

    @Test mutating func aRelayThatBecomesStandingIsNoLongerOnDemand() {
        _ = route(RouteTableTests.greaterPeer, peerRelays: [Self.f1])
        #expect(update(now: 1).open == [Self.f1])
        links[Self.f1] = FakeLink(Self.f1)
        let nowStanding = standing.union([Self.f1])
        #expect(onDemand.update(routes: table.routes.values, links: links, standing: nowStanding, known: known, now: 2) == ([], []))
        #expect(!onDemand.contains(Self.f1))
    }

    /// The lab's three regions: a member's ranking changed under load and dropped the relay its
    /// peer's packets arrived through; its registration there closed and the pair took 88 s to
    /// connect. Kept on demand while the packets arrive there, closed a linger after they stop.
    @Test mutating func aStandingRelayLeftWhileInUseStaysWhileThePeersPacketsArriveThere() {
        let follower = route(RouteTableTests.lesserPeer, peerRelays: [Self.f1])
        links[Self.f2] = FakeLink(Self.f2)
        table.recordInbound(follower, via: Self.f2, now: 1)
        let adopted = onDemand.adopt(Self.f2, now: 1)
        #expect(adopted)
        #expect(update(now: 2) == ([], []))
        #expect(update(now: 2 + OnDemandRelays.linger) == ([], []))
        #expect(onDemand.wantedAt[Self.f2] == 2 + OnDemandRelays.linger)
        // The peer moves to a relay this member holds: the adopted one is closed a linger later.
        table.recordInbound(follower, via: Self.t1, now: 70)
        #expect(update(now: 70) == ([], []))
        let lastWanted = 2 + OnDemandRelays.linger
        #expect(update(now: lastWanted + OnDemandRelays.linger - 0.1) == ([], []))
        #expect(update(now: lastWanted + OnDemandRelays.linger) == ([], [Self.f2]))
    }

    /// The follower's own on-demand relay (opened before its peer's packets arrived through one
    /// of its standing relays) is not kept for the peer's packets arriving there: the pair meets
    /// on the follower's standing relay (ADR 11), and this one lingers out.
    @Test mutating func theFollowersOwnOnDemandRelayLingersOutEvenWhileThePeerUsesIt() {
        let follower = route(RouteTableTests.lesserPeer, peerRelays: [Self.f1])
        #expect(update(now: 1).open == [Self.f1])
        links[Self.f1] = FakeLink(Self.f1)
        table.recordInbound(follower, via: Self.f1, now: 2)
        #expect(update(now: 2) == ([], []))
        table.recordInbound(follower, via: Self.t1, now: 3)
        #expect(update(now: 3) == ([], []))
        #expect(update(now: 2 + OnDemandRelays.linger) == ([], [Self.f1]))
    }
}
