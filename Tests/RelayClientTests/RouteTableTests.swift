import Testing
import WireGuard
@testable import RelayClient

/// The route table's decisions, with links that are plain values and no sockets.
@Suite struct RouteTableTests {
    final class FakeLink: RouteLink {
        let relayKey: PublicKey
        let relayAddress: IPAddress
        var transport = RelayLinkMachine.Transport.udp
        var sessionID: UInt64 = 7
        var observedAddress: IPAddress? = IPAddress("198.51.100.7")
        var usable = true
        var registeringSince: Double?

        init(_ key: PublicKey, address: IPAddress = IPAddress("203.0.113.1")!) {
            relayKey = key
            relayAddress = address
        }

        func isUsable(now: Double) -> Bool { usable }
    }

    static func key(_ first: UInt8) -> PublicKey { PublicKey(bytes: [first] + [UInt8](repeating: 0, count: 31))! }

    static let own = key(0x50)
    static let lesserPeer = key(0x10)
    static let greaterPeer = key(0x90)
    static let relayA = key(0xA0)
    static let relayB = key(0xB0)
    static let proxy = Endpoint("127.0.0.1:40000")!

    var table = RouteTable(publicKey: RouteTableTests.own)
    let linkA = FakeLink(RouteTableTests.relayA)
    let linkB = FakeLink(RouteTableTests.relayB, address: IPAddress("2001:db8::b")!)
    var links: [PublicKey: FakeLink] { [Self.relayA: linkA, Self.relayB: linkB] }

    @Test func theGreaterKeyFollows() {
        let low = PublicKey(bytes: [0x01] + [UInt8](repeating: 0xFF, count: 31))!
        let high = PublicKey(bytes: [0x02] + [UInt8](repeating: 0x00, count: 31))!
        #expect(PairRoles.follows(high, peer: low))
        #expect(!PairRoles.follows(low, peer: high))
        #expect(!PairRoles.follows(low, peer: low))
        #expect(PairRoles.leads(low, peer: high))
        #expect(!PairRoles.leads(high, peer: low))
        #expect(!PairRoles.leads(low, peer: low))
    }

    @Test mutating func choosesTheFirstUsablePreferenceThenTheLastInboundRelay() {
        let route = table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [Self.relayA, Self.relayB],
                              automatic: false, now: 0)
        #expect(!route.followsPeer)
        #expect(table.chooseLink(for: route, links: links, now: 1) === linkA)
        linkA.usable = false
        #expect(table.chooseLink(for: route, links: links, now: 1) === linkB)
        linkB.usable = false
        #expect(table.chooseLink(for: route, links: links, now: 1) == nil)
        route.preferences = []
        linkB.usable = true
        table.recordInbound(route, via: Self.relayB, now: 2)
        #expect(table.chooseLink(for: route, links: links, now: 2) === linkB)
        #expect(route.packetsIn == 1)
        #expect(route.lastInbound == 2)
    }

    /// The lab's cross-region pairs: the handshake went through this member's own relays while
    /// its registration with the peer's was under way, each said peer-unknown, and WireGuard
    /// retried only 5 s later. It now waits for the registration, for `registrationWait` at most.
    @Test mutating func aHandshakeWaitsForARegistrationWithThePeersRelay() {
        let route = table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [Self.relayB, Self.relayA],
                              peerRelays: [Self.relayA], automatic: false, now: 0)
        linkA.usable = false
        linkA.registeringSince = 10
        #expect(table.chooseLink(for: route, links: links, now: 10 + RouteTable.registrationWait - 0.1) == nil)
        #expect(table.chooseLink(for: route, links: links, now: 10 + RouteTable.registrationWait) === linkB)
        linkA.usable = true
        linkA.registeringSince = nil
        #expect(table.chooseLink(for: route, links: links, now: 13) === linkA)
    }

    /// The peer's packets reach WireGuard straight through another relay's channel, bypassing
    /// the engine: told so, the following end answers through that relay.
    @Test mutating func theFollowingEndFollowsARelayWhoseChannelDeliversThePeer() {
        let route = table.add(Self.lesserPeer, descriptor: 3, proxy: Self.proxy, preferences: [Self.relayA], automatic: false, now: 0)
        table.recordInbound(route, via: Self.relayA, now: 1)
        #expect(table.chooseLink(for: route, links: links, now: 1) === linkA)
        table.follow(route, via: Self.relayB)
        #expect(table.chooseLink(for: route, links: links, now: 2) === linkB)
        #expect(route.packetsIn == 1)
    }

    @Test mutating func theFollowingEndAnswersThroughTheRelayThePeerUses() {
        let route = table.add(Self.lesserPeer, descriptor: 3, proxy: Self.proxy, preferences: [Self.relayA], automatic: false, now: 0)
        #expect(route.followsPeer)
        #expect(table.chooseLink(for: route, links: links, now: 1) === linkA)
        table.recordInbound(route, via: Self.relayB, now: 1)
        #expect(table.chooseLink(for: route, links: links, now: 1) === linkB)
    }

    /// The leader holds none of the peer's relays (no on-demand link could be made): it answers
    /// through the relay the peer's packets arrive through rather than its own first.
    @Test mutating func withoutThePeersRelaysTheLeaderUsesTheRelayThePeerUses() {
        let route = table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [Self.key(0xC1), Self.relayA, Self.relayB],
                              peerRelays: [Self.key(0xC1)], automatic: false, now: 0)
        #expect(!route.followsPeer)
        #expect(table.chooseLink(for: route, links: links, now: 1) === linkA)
        table.recordInbound(route, via: Self.relayB, now: 1)
        #expect(table.chooseLink(for: route, links: links, now: 1) === linkB)
    }

    @Test mutating func peerUnknownSkipsTheRelayForAWhile() {
        let route = table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [Self.relayA, Self.relayB],
                              automatic: false, now: 0)
        table.peerUnknown(Self.greaterPeer, via: Self.relayA, now: 10)
        #expect(table.chooseLink(for: route, links: links, now: 10 + RouteTable.peerUnknownHold - 0.1) === linkB)
        #expect(table.chooseLink(for: route, links: links, now: 10 + RouteTable.peerUnknownHold) === linkA)
    }

    @Test mutating func holdsAtMostTheLimitAndDropsThemAfterTheirTime() {
        let route = table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [], automatic: false, now: 0)
        for n in 0..<(RouteTable.holdLimit.packets + 2) { table.hold([UInt8(n)], on: route, now: 5 + Double(n) / 100) }
        #expect(route.held.count == RouteTable.holdLimit.packets)
        #expect(route.held.first == [2])
        #expect(route.packetsDropped == 2)
        #expect(route.heldSince == 5)
        table.dropExpiredHeld(from: route, now: 5 + RouteTable.holdLimit.seconds - 0.01)
        #expect(route.held.count == RouteTable.holdLimit.packets)
        table.dropExpiredHeld(from: route, now: 5 + RouteTable.holdLimit.seconds)
        #expect(route.held.isEmpty)
        #expect(route.heldSince == nil)
        #expect(route.packetsDropped == 2 + UInt64(RouteTable.holdLimit.packets))
    }

    @Test mutating func heldPacketsAreHandedOverAndCountedAsSent() {
        let route = table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [], automatic: false, now: 0)
        table.hold([1], on: route, now: 1)
        table.hold([2], on: route, now: 1)
        #expect(table.takeHeld(from: route, via: Self.relayB) == [[1], [2]])
        #expect(route.packetsOut == 2)
        #expect(route.lastSentVia == Self.relayB)
        #expect(route.held.isEmpty)
        #expect(route.heldSince == nil)
    }

    /// WireGuard answers only its newest initiation: a newer one replaces the one held.
    @Test mutating func aNewerInitiationReplacesTheHeldOne() {
        let route = table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [], automatic: false, now: 0)
        func initiation(_ fill: UInt8) -> [UInt8] {
            var packet = [UInt8](repeating: fill, count: 148)
            packet[0] = 1; packet[1] = 0; packet[2] = 0; packet[3] = 0
            return packet
        }
        table.hold(initiation(7), on: route, now: 1)
        table.hold([4, 0, 0, 0] + [UInt8](repeating: 9, count: 60), on: route, now: 1)
        table.hold(initiation(8), on: route, now: 2)
        #expect(route.held.map(\.last) == [9, 8])
        #expect(route.packetsDropped == 1)
        #expect(route.heldSince == 1)
    }

    /// A handshake initiation answered peer-unknown is handed back to go through the next relay
    /// (once, and only just after it left); other packets are not kept.
    @Test mutating func aHandshakeAnsweredPeerUnknownIsHandedBack() {
        let route = table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [Self.relayA, Self.relayB],
                              automatic: false, now: 0)
        var initiation = [UInt8](repeating: 7, count: 148)
        initiation[0] = 1; initiation[1] = 0; initiation[2] = 0; initiation[3] = 0
        var transport = [UInt8](repeating: 7, count: 64)
        transport[0] = 4; transport[1] = 0; transport[2] = 0; transport[3] = 0
        transport.withUnsafeBytes { table.recordHandshake($0, on: route, via: Self.relayA, now: 1) }
        #expect(route.lastHandshake == nil)
        initiation.withUnsafeBytes { table.recordHandshake($0, on: route, via: Self.relayA, now: 1) }
        #expect(table.peerUnknown(Self.greaterPeer, via: Self.relayB, now: 1.1) == nil)
        #expect(table.peerUnknown(Self.greaterPeer, via: Self.relayA, now: 1.2) == initiation)
        #expect(table.peerUnknown(Self.greaterPeer, via: Self.relayA, now: 1.3) == nil)
        initiation.withUnsafeBytes { table.recordHandshake($0, on: route, via: Self.relayB, now: 2) }
        #expect(table.peerUnknown(Self.greaterPeer, via: Self.relayB, now: 2 + RouteTable.handshakeResendWindow) == nil)
    }

    @Test mutating func aChannelIsAskedForOnceARetryAndRenewed() {
        let route = table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [Self.relayA], automatic: false, now: 0)
        // Not before the peer's packets came through the relay: it may not be there at all.
        #expect(table.channelRequestDue(for: route, links: links, now: 0.5) == nil)
        table.recordInbound(route, via: Self.relayA, now: 0.9)
        #expect(table.channelRequestDue(for: route, links: links, now: 1) === linkA)
        #expect(table.channelRequestDue(for: route, links: links, now: 1.5) == nil)
        #expect(table.channelRequestDue(for: route, links: links, now: 1 + RouteTable.channelRetry) === linkA)
        table.channelGranted(Self.greaterPeer, port: 52000, by: linkA, now: 3)
        #expect(route.channelRequested == nil)
        #expect(table.currentChannel(of: route, links: links, now: 3) == Endpoint("203.0.113.1:52000")!)
        #expect(table.grantedChannels == [Endpoint("203.0.113.1:52000")!])
        #expect(table.channelRequestDue(for: route, links: links, now: 3 + RouteTable.channelRenew - 1) == nil)
        #expect(table.channelRequestDue(for: route, links: links, now: 3 + RouteTable.channelRenew) === linkA)
    }

    /// A relay behind a proxy sees the registration come from the proxy, and WireGuard's packets
    /// from the member's NAT: it could not tell them from a stranger's, so it is asked for none.
    @Test mutating func noChannelFromARelayThatSeesTheMemberElsewhere() {
        let route = table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [Self.relayA], automatic: false, now: 0)
        let own = OwnAddresses(observedByServer: IPAddress("198.51.100.7")!, local: [IPAddress("192.168.1.20")!])
        table.recordInbound(route, via: Self.relayA, now: 0.5)
        linkA.observedAddress = IPAddress("203.0.113.99")
        #expect(table.channelRequestDue(for: route, links: links, ownAddresses: own, now: 1) == nil)
        linkA.observedAddress = IPAddress("192.168.1.20")
        #expect(table.channelRequestDue(for: route, links: links, ownAddresses: own, now: 1) === linkA)
        linkA.observedAddress = IPAddress("203.0.113.99")
        #expect(table.channelRequestDue(for: route, links: links, ownAddresses: nil, now: 1 + RouteTable.channelRetry) === linkA)
    }

    @Test func aRelayOverTheOtherFamilyThanTheServerIsNotJudged() {
        let own = OwnAddresses(observedByServer: IPAddress("2001:db8::7")!, local: [IPAddress("192.168.1.20")!, IPAddress("2001:db8::7")!])
        #expect(own.admitsChannels(seenAt: IPAddress("203.0.113.99")!))
        #expect(own.admitsChannels(seenAt: IPAddress("2001:db8::7")!))
        #expect(!own.admitsChannels(seenAt: IPAddress("2001:db8:1::5")!))
    }

    @Test mutating func noChannelOverTCPOrForAutomaticRoutesOrBeforeRegistration() {
        let route = table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [Self.relayA], automatic: false, now: 0)
        linkA.transport = .tcp
        #expect(table.channelRequestDue(for: route, links: links, now: 1) == nil)
        linkA.transport = .udp
        linkA.sessionID = 0
        #expect(table.channelRequestDue(for: route, links: links, now: 1) == nil)
        linkA.sessionID = 7
        route.automatic = true
        #expect(table.channelRequestDue(for: route, links: links, now: 1) == nil)
    }

    /// Asks linkA's relay for the route's channel, as the engine does once the peer's packets came through it.
    mutating func askForChannel(_ route: Route, now: Double) {
        table.recordInbound(route, via: Self.relayA, now: now)
        #expect(table.channelRequestDue(for: route, links: links, now: now) === linkA)
    }

    @Test mutating func aChannelCountsOnlyUnderTheRegistrationThatGrantedIt() {
        let route = table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [Self.relayA], automatic: false, now: 0)
        askForChannel(route, now: 0.5)
        table.channelGranted(Self.greaterPeer, port: 52000, by: linkA, now: 1)
        let first = table.channelsChanged(links: links, now: 1)
        let again = table.channelsChanged(links: links, now: 1)
        #expect(first && !again)
        linkA.sessionID = 8
        #expect(table.currentChannel(of: route, links: links, now: 2) == nil)
        let afterReregistering = table.channelsChanged(links: links, now: 2)
        #expect(afterReregistering)
    }

    @Test mutating func portZeroHoldsTheRelayOff() {
        let route = table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [Self.relayA], automatic: false, now: 0)
        table.recordInbound(route, via: Self.relayA, now: 0.5)
        _ = table.channelRequestDue(for: route, links: links, now: 1)
        table.channelGranted(Self.greaterPeer, port: 0, by: linkA, now: 1)
        #expect(route.channel == nil)
        #expect(table.channelRequestDue(for: route, links: links, now: 1 + RouteTable.channelRefusedHold - 1) == nil)
        #expect(table.channelRequestDue(for: route, links: links, now: 1 + RouteTable.channelRefusedHold) === linkA)
    }

    @Test mutating func aRefusedChannelIsReleasedAFewTimes() {
        let route = table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [Self.relayA], automatic: false, now: 0)
        let withoutChannel = table.refuseChannel(of: Self.greaterPeer, now: 1)
        #expect(!withoutChannel)
        askForChannel(route, now: 1)
        table.channelGranted(Self.greaterPeer, port: 52000, by: linkA, now: 1)
        let withChannel = table.refuseChannel(of: Self.greaterPeer, now: 2)
        #expect(withChannel)
        #expect(route.channel == nil)
        var sent: [Double] = []
        for now in stride(from: 2.0, through: 8.0, by: 0.5) where table.channelReleaseDue(for: route, links: links, now: now) != nil {
            sent.append(now)
        }
        #expect(sent == [2, 3, 4])
        #expect(route.channelReleasing == nil)
        #expect(table.channelRequestDue(for: route, links: links, now: 9) == nil)
    }

    /// A route closed with a channel (the pair went direct) closes the channel at its relay a few
    /// times; a route to the peer again stops the closing, since the relay may grant it the
    /// same channel.
    @Test mutating func aClosedRoutesChannelIsClosedAtItsRelayAFewTimes() {
        table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [Self.relayA], automatic: false, now: 0)
        _ = table.remove(Self.greaterPeer)
        #expect(table.channelClosesDue(links: links, now: 1).isEmpty)
        table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [Self.relayA], automatic: false, now: 1)
        askForChannel(table[Self.greaterPeer]!, now: 1)
        table.channelGranted(Self.greaterPeer, port: 52000, by: linkA, now: 1)
        _ = table.remove(Self.greaterPeer)
        var sent: [Double] = []
        for now in stride(from: 2.0, through: 8.0, by: 0.5) {
            let due = table.channelClosesDue(links: links, now: now)
            #expect(due.allSatisfy { $0.peer == Self.greaterPeer && $0.link === linkA })
            if !due.isEmpty { sent.append(now) }
        }
        #expect(sent == [2, 3, 4])
        #expect(table.channelsClosing.isEmpty)

        let again = table.add(Self.greaterPeer, descriptor: 4, proxy: Self.proxy, preferences: [Self.relayA], automatic: false, now: 9)
        askForChannel(again, now: 9)
        table.channelGranted(Self.greaterPeer, port: 52000, by: linkA, now: 9)
        _ = table.remove(Self.greaterPeer)
        #expect(table.channelClosesDue(links: links, now: 10).count == 1)
        table.add(Self.greaterPeer, descriptor: 5, proxy: Self.proxy, preferences: [Self.relayA], automatic: false, now: 10.5)
        #expect(table.channelClosesDue(links: links, now: 11).isEmpty)
    }

    /// A renewal and the agent's giving up are both due 30 s after a grant: the renewal's answer,
    /// a round trip later, must not bring the channel back.
    @Test mutating func aGrantThatArrivesAfterTheChannelWasGivenUpIsIgnored() {
        let route = table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [Self.relayA], automatic: false, now: 0)
        askForChannel(route, now: 1)
        table.channelGranted(Self.greaterPeer, port: 52000, by: linkA, now: 1.1)
        askForChannel(route, now: 1.1 + RouteTable.channelRenew)
        let gaveUp = table.refuseChannel(of: Self.greaterPeer, now: 31.15)
        #expect(gaveUp)
        table.channelGranted(Self.greaterPeer, port: 52000, by: linkA, now: 31.25)
        #expect(route.channel == nil)
        #expect(table.channelRequestDue(for: route, links: links, now: 40) == nil)
        // Unasked, a port 0 still counts (the peer released the pair's channels).
        let other = table.add(Self.lesserPeer, descriptor: 4, proxy: Self.proxy, preferences: [Self.relayA], automatic: false, now: 0)
        table.channelGranted(Self.lesserPeer, port: 0, by: linkA, now: 50)
        #expect(other.channelRefused[Self.relayA] == 50)
    }

    @Test mutating func idleAutomaticRoutesExpire() {
        table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [], automatic: true, now: 0)
        table.add(Self.lesserPeer, descriptor: 4, proxy: Self.proxy, preferences: [], automatic: false, now: 0)
        #expect(table.idleAutomaticRoutes(now: RouteTable.automaticIdle).isEmpty)
        #expect(table.idleAutomaticRoutes(now: RouteTable.automaticIdle + 1) == [Self.greaterPeer])
        #expect(table.remove(Self.greaterPeer)?.descriptor == 3)
        #expect(table[Self.greaterPeer] == nil)
    }

    /// Both ends' initiations cross on a WAN; only the leader's handshake may go on.
    @Test mutating func theLeaderDropsAnInitiationThatCrossesItsOwn() {
        let led = table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [Self.relayA], automatic: false, now: 0)
        let followed = table.add(Self.lesserPeer, descriptor: 4, proxy: Self.proxy, preferences: [Self.relayA], automatic: false, now: 0)
        #expect(!led.followsPeer && followed.followsPeer)
        WireGuardPacket.initiation.withUnsafeBytes { initiation in
            WireGuardPacket.response.withUnsafeBytes { response in
                // No initiation of ours outstanding: the peer's is answered.
                #expect(table.admitInbound(initiation, on: led, now: 1))
                table.recordHandshake(initiation, on: led, via: Self.relayA, now: 10)
                table.recordHandshake(initiation, on: followed, via: Self.relayA, now: 10)
                #expect(!table.admitInbound(initiation, on: led, now: 10.2))
                #expect(!table.admitInbound(initiation, on: led, now: 10 + RouteTable.crossingWindow - 0.01))
                #expect(table.admitInbound(initiation, on: led, now: 10 + RouteTable.crossingWindow))
                #expect(led.crossedInitiation == nil)
                // The follower answers the leader's initiation whatever it sent.
                #expect(table.admitInbound(initiation, on: followed, now: 10.2))
                // The peer's response ends ours being outstanding; responses always pass.
                table.recordHandshake(initiation, on: led, via: Self.relayA, now: 20)
                #expect(table.admitInbound(response, on: led, now: 20.1))
                #expect(led.initiationOutstandingSince == nil)
                #expect(table.admitInbound(initiation, on: led, now: 20.2))
                // A response of ours does not make an initiation outstanding.
                table.recordHandshake(response, on: led, via: Self.relayA, now: 30)
                #expect(table.admitInbound(initiation, on: led, now: 30.1))
                // An initiation the relay could not deliver (the peer not registered there yet)
                // crosses nothing; sent again through another relay, it is outstanding again.
                table.recordHandshake(initiation, on: led, via: Self.relayA, now: 40)
                let again = table.peerUnknown(Self.greaterPeer, via: Self.relayA, now: 40.1)
                #expect(again == WireGuardPacket.initiation)
                #expect(table.admitInbound(initiation, on: led, now: 40.2))
                table.recordHandshake(initiation, on: led, via: Self.relayB, now: 40.3)
                #expect(!table.admitInbound(initiation, on: led, now: 40.4))
            }
        }
    }

    /// The leader's initiation was lost: the follower's, dropped as crossing it, is handed to
    /// WireGuard when the window ends; a response to the leader's makes it moot.
    @Test mutating func aCrossedInitiationIsHandedOnWhenOursGoesUnanswered() {
        let led = table.add(Self.greaterPeer, descriptor: 3, proxy: Self.proxy, preferences: [Self.relayA], automatic: false, now: 0)
        WireGuardPacket.initiation.withUnsafeBytes { initiation in
            WireGuardPacket.response.withUnsafeBytes { response in
                table.recordHandshake(initiation, on: led, via: Self.relayA, now: 10)
                #expect(!table.admitInbound(initiation, on: led, now: 10.3))
                #expect(table.crossedInitiationDue(led, now: 10 + RouteTable.crossingWindow - 0.01) == nil)
                #expect(table.crossedInitiationDue(led, now: 10 + RouteTable.crossingWindow) == WireGuardPacket.initiation)
                #expect(table.crossedInitiationDue(led, now: 12) == nil)
                // Answered in time: the crossed one is dropped for good.
                table.recordHandshake(initiation, on: led, via: Self.relayA, now: 20)
                #expect(!table.admitInbound(initiation, on: led, now: 20.3))
                #expect(table.admitInbound(response, on: led, now: 20.6))
                #expect(table.crossedInitiationDue(led, now: 25) == nil)
                // Ours never reached the peer (the relay did not know it): handed on at once.
                table.recordHandshake(initiation, on: led, via: Self.relayA, now: 30)
                #expect(!table.admitInbound(initiation, on: led, now: 30.1))
                _ = table.peerUnknown(Self.greaterPeer, via: Self.relayA, now: 30.2)
                #expect(table.crossedInitiationDue(led, now: 30.2) == WireGuardPacket.initiation)
                // Kept past WireGuard's next try, it is stale and dropped.
                table.recordHandshake(initiation, on: led, via: Self.relayA, now: 40)
                #expect(!table.admitInbound(initiation, on: led, now: 40.1))
                #expect(table.crossedInitiationDue(led, now: 40.1 + RouteTable.crossedInitiationLifetime) == nil)
                #expect(led.crossedInitiation == nil)
            }
        }
    }
}
