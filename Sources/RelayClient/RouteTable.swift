import RelayWire
import WireGuard

/// What the route table reads of a relay link to choose it for a route and to track channels.
protocol RouteLink: AnyObject {
    var relayKey: PublicKey { get }
    var relayAddress: IPAddress { get }
    var transport: RelayLinkMachine.Transport { get }
    /// The link's current registration; 0 when not registered.
    var sessionID: UInt64 { get }
    /// The address the relay sees this member's registration come from, once registered.
    var observedAddress: IPAddress? { get }
    func isUsable(now: Double) -> Bool
    /// When the link's registration attempts began, while it is registering (nil otherwise).
    var registeringSince: Double? { get }
}

/// One relayed peer: its proxy socket (by descriptor; the socket loop owns the socket), which
/// relays it may go through, what came and went, and its channel.
final class Route {
    let peer: PublicKey
    let descriptor: Int32
    let proxy: Endpoint
    var preferences: [PublicKey]
    /// The relays the peer reported, home first (none for an automatic route): where a
    /// registration on demand goes when this member holds none of them (`OnDemandRelays`).
    var peerRelays: [PublicKey]
    var automatic: Bool
    var lastInboundVia: PublicKey?
    var lastSentVia: PublicKey?
    var unknownVia: [PublicKey: Double] = [:]
    var packetsIn: UInt64 = 0
    var packetsOut: UInt64 = 0
    var packetsDropped: UInt64 = 0
    var lastInbound: Double?
    let created: Double
    /// The channel a relay granted for this peer, valid while that relay's registration is the
    /// one it was granted under.
    var channel: (relay: PublicKey, port: UInt16, session: UInt64, granted: Double)?
    var channelRequested: (relay: PublicKey, at: Double)?
    /// Relays that answered port 0, and when: asked again after `channelRefusedHold`.
    var channelRefused: [PublicKey: Double] = [:]
    /// A channel given up (`refuseChannel`), while its release is being repeated.
    var channelReleasing: (relay: PublicKey, sent: Double, tries: Int)?
    /// Whether this end answers through the relay the peer's packets arrive through (see `chooseLink`).
    let followsPeer: Bool
    /// The last handshake message WireGuard sent for the peer, through which relay, and when
    /// (`handshakeResendWindow`).
    var lastHandshake: (packet: [UInt8], via: PublicKey, at: Double)?
    /// When WireGuard last sent the peer an initiation through this engine, until the peer's
    /// response comes back (`admitInbound`).
    var initiationOutstandingSince: Double?
    /// The peer's newest initiation dropped as crossing ours, and when it arrived: handed to
    /// WireGuard if ours is not answered within the window (`crossedInitiationDue`).
    var crossedInitiation: (packet: [UInt8], at: Double)?
    /// Packets WireGuard sent while no relay could carry them, and since when (`holdLimit`).
    var held: [[UInt8]] = []
    var heldSince: Double?

    init(peer: PublicKey, descriptor: Int32, proxy: Endpoint, preferences: [PublicKey], peerRelays: [PublicKey] = [],
         automatic: Bool, created: Double, followsPeer: Bool) {
        self.peer = peer
        self.descriptor = descriptor
        self.proxy = proxy
        self.preferences = preferences
        self.peerRelays = peerRelays
        self.automatic = automatic
        self.created = created
        self.followsPeer = followsPeer
    }
}

/// The client engine's routes and their channels, and every decision about them: which relay
/// carries a peer's packets, when a channel is asked for, renewed or released, what is held
/// while no relay can carry it. No system calls: the socket loop (`EngineState`) acts on what
/// it answers.
struct RouteTable {
    /// A relay that said peer-unknown for a peer is skipped for it this long (unless the peer's
    /// packets arrive through it meanwhile): the peer is registering elsewhere or not at all.
    static let peerUnknownHold = 3.0
    /// How long a route's packets wait for a registration with one of its peer's relays to
    /// complete: one with a cookie round over a 300 ms path takes about a second.
    static let registrationWait = 2.0
    /// Automatic routes (made by arriving packets) without traffic this long are closed.
    static let automaticIdle = 180.0
    static let maxAutomaticRoutes = 256
    /// An unanswered channel request or release is repeated after this long.
    static let channelRetry = 1.0
    /// A release is sent this many times, `channelRetry` apart: the relay does not answer it
    /// (it tells the peer instead), and a repeat costs it nothing.
    static let channelReleaseTries = 3
    /// A granted channel is renewed this often, so the relay keeps it while WireGuard is idle.
    static let channelRenew = 30.0
    /// Port 0 (no channel, or a channel withdrawn because the relay saw WireGuard's packets come
    /// from another address than this engine's registration) holds for long: asking sooner
    /// would cut the pair off again for a round trip each time.
    static let channelRefusedHold = 300.0
    /// A route holds this many packets, for this long, while no relay can carry them, and sends
    /// them when one can: at start both ends' first handshake initiations often leave before
    /// their relay registrations are done, and WireGuard sends the next only 5 s later.
    static let holdLimit = (packets: 8, seconds: 1.0)
    /// Channel endpoints remembered as granted, at most.
    static let maxGrantedChannels = 1024
    /// A handshake message a relay answered peer-unknown for within this long of sending it is
    /// sent again through the next relay that can carry it: WireGuard would send its next only
    /// 5 s later, and a peer that just moved its registrations (a restart, a new home the
    /// server has not told this member of yet) is usually at the next relay of its list.
    static let handshakeResendWindow = 2.0

    /// Decides which end of a pair picks the pair's relay (`Route.followsPeer`).
    let publicKey: PublicKey
    private(set) var routes: [PublicKey: Route] = [:]
    /// Every channel endpoint granted to this engine (bounded): a packet WireGuard received from
    /// one came through a relay, even after the route that asked for it closed.
    private(set) var grantedChannels: Set<Endpoint> = []
    /// The channel endpoints last reported as current, to tell the agent when they change.
    private var reportedChannels: [PublicKey: Endpoint] = [:]
    /// Channels of closed routes whose close is being repeated, by peer.
    private(set) var channelsClosing: [PublicKey: (relay: PublicKey, sent: Double, tries: Int)] = [:]

    init(publicKey: PublicKey) {
        self.publicKey = publicKey
    }

    subscript(peer: PublicKey) -> Route? { routes[peer] }

    @discardableResult
    mutating func add(_ peer: PublicKey, descriptor: Int32, proxy: Endpoint, preferences: [PublicKey],
                      peerRelays: [PublicKey] = [], automatic: Bool, now: Double) -> Route {
        let route = Route(peer: peer, descriptor: descriptor, proxy: proxy, preferences: preferences, peerRelays: peerRelays,
                          automatic: automatic, created: now, followsPeer: PairRoles.follows(publicKey, peer: peer))
        routes[peer] = route
        // The relay may grant the new route the channel it still holds: a late close would shut it.
        channelsClosing[peer] = nil
        return route
    }

    /// Removes the peer's route; its channel, if it had one, is closed at its relay
    /// (`channelClosesDue`).
    mutating func remove(_ peer: PublicKey) -> Route? {
        guard let route = routes.removeValue(forKey: peer) else { return nil }
        if let channel = route.channel { channelsClosing[peer] = (channel.relay, 0, 0) }
        return route
    }

    mutating func removeAll() {
        routes = [:]
    }

    var acceptsAutomaticRoute: Bool { routes.values.filter(\.automatic).count < Self.maxAutomaticRoutes }

    /// Automatic routes idle for `automaticIdle`.
    func idleAutomaticRoutes(now: Double) -> [PublicKey] {
        routes.filter { $0.value.automatic && now - ($0.value.lastInbound ?? $0.value.created) > Self.automaticIdle }.map(\.key)
    }

    // MARK: choosing a relay

    /// The relay link that carries the route's packets now, if any can.
    func chooseLink<Link: RouteLink>(for route: Route, links: [PublicKey: Link], now: Double) -> Link? {
        func candidate(_ key: PublicKey) -> Link? {
            guard let link = links[key], link.isUsable(now: now) else { return nil }
            if let since = route.unknownVia[key], now - since < Self.peerUnknownHold { return nil }
            return link
        }
        // Each end prefers the relay its peer is registered with, so the two ends of a pair send
        // through different relays when their homes differ; a relay can only pass a packet from
        // one member's channel straight to the other's when both have a channel for the pair on
        // it. So one end (the greater key) answers through the relay the other's packets arrive
        // through, for as long as that relay is usable: the pair converges on the relay the
        // lesser key chose, and does not swap back and forth.
        if route.followsPeer, let via = route.lastInboundVia, let link = candidate(via) { return link }
        for key in route.peerRelays { if let link = candidate(key) { return link } }
        // None of the peer's relays can carry it (no on-demand link: the bound, or a failure):
        // the relay its packets arrive through is where it is, whatever this member prefers.
        if !route.peerRelays.isEmpty, let via = route.lastInboundVia, let link = candidate(via) { return link }
        // A registration with one of the peer's relays is under way (one made on demand for this
        // route, mostly): the packet waits for it (`hold`; sent once it registers) rather than
        // going through relays the peer is not registered with, each answering peer-unknown,
        // which cost the lab's cross-region pairs a lost handshake and WireGuard's 5 s retry.
        if route.peerRelays.contains(where: { key in
            links[key]?.registeringSince.map { now - $0 < Self.registrationWait } ?? false
        }) { return nil }
        for key in route.preferences { if let link = candidate(key) { return link } }
        if let via = route.lastInboundVia, let link = candidate(via) { return link }
        return nil
    }

    /// A data packet from the peer arrived through `relay`.
    func recordInbound(_ route: Route, via relay: PublicKey, now: Double) {
        route.lastInboundVia = relay
        route.unknownVia[relay] = nil
        route.lastInbound = now
        route.packetsIn &+= 1
    }

    /// The peer's packets arrive through `relay`'s channel straight to WireGuard
    /// (`RelayClientEngine.noteChannelInbound`): that is the relay they come through.
    func follow(_ route: Route, via relay: PublicKey) {
        route.lastInboundVia = relay
        route.unknownVia[relay] = nil
    }

    /// `count` packets left through `relay`.
    func recordSent(_ route: Route, count: Int, via relay: PublicKey) {
        route.packetsOut &+= UInt64(count)
        route.lastSentVia = relay
    }

    /// `relay` answered that the peer is not registered with it. Returns the handshake message
    /// to send again through another relay, if the last one went through this relay just now.
    @discardableResult
    func peerUnknown(_ peer: PublicKey, via relay: PublicKey, now: Double) -> [UInt8]? {
        guard let route = routes[peer] else { return nil }
        route.unknownVia[relay] = now
        // Our initiation did not reach the peer: the peer's own is not crossing it, and must be
        // answered (until it goes out again, through another relay).
        if route.lastHandshake?.via == relay { route.initiationOutstandingSince = nil }
        guard let last = route.lastHandshake, last.via == relay, now - last.at < Self.handshakeResendWindow else { return nil }
        route.lastHandshake = nil
        return last.packet
    }

    /// Remembers a handshake message sent through `relay` (see `peerUnknown`).
    func recordHandshake(_ packet: UnsafeRawBufferPointer, on route: Route, via relay: PublicKey, now: Double) {
        guard WireGuardMessageShape.isHandshake(packet) else { return }
        route.lastHandshake = (Array(packet), relay, now)
        if packet[0] == 1 { route.initiationOutstandingSince = now }
    }

    // MARK: crossing initiations

    /// How long after WireGuard's own initiation one from the peer counts as crossing it: the
    /// round trip through a relay between members far apart, with room for loss of neither.
    static let crossingWindow = 1.5

    /// Takes a packet that arrived from the peer through a relay into account, and says whether
    /// WireGuard may have it: false for an initiation to drop, so that WireGuard does not answer
    /// it. A response ends our own initiation's being outstanding. Both ends start a relayed pair
    /// at once (their direct attempts end together), so both WireGuards send an initiation, and
    /// on a WAN the two cross: each end answers the other's, which replaces its own handshake in
    /// progress, and then drops the response to its own. Neither session completes, and
    /// WireGuard tries again only 5 s later — in step on both ends, so the pair crossed again
    /// (7.8 and 12.9 s to a first packet at 150 ms). The end that leads the pair (`followsPeer`
    /// false) keeps its own initiation and drops the peer's; the follower answers the leader's,
    /// and the leader's handshake completes.
    ///
    /// The dropped initiation is kept: when the leader's own was lost on the way, the follower's
    /// is the only handshake under way, and dropping it for good left the pair to WireGuard's
    /// next try 5 s on (5.9 s to a first packet at 300 ms with 5% loss).
    func admitInbound(_ packet: UnsafeRawBufferPointer, on route: Route, now: Double) -> Bool {
        guard WireGuardMessageShape.isHandshake(packet) else { return true }
        if packet[0] == 2 {
            route.initiationOutstandingSince = nil
            route.crossedInitiation = nil
            return true
        }
        // An initiation WireGuard may answer supersedes a crossed one: it answers only the newest.
        guard !route.followsPeer, let since = route.initiationOutstandingSince, now - since < Self.crossingWindow else {
            route.crossedInitiation = nil
            return true
        }
        route.crossedInitiation = (Array(packet), now)
        return false
    }

    /// How long a crossed initiation is worth handing to WireGuard: the peer's WireGuard sends
    /// a new one after 5 s (its rekey timeout), and answers only its newest.
    static let crossedInitiationLifetime = 5.0

    /// The peer's crossed initiation to hand to WireGuard now: the window ended without a
    /// response to ours, or ours never reached the peer (`peerUnknown`).
    func crossedInitiationDue(_ route: Route, now: Double) -> [UInt8]? {
        guard let crossed = route.crossedInitiation else { return nil }
        if let since = route.initiationOutstandingSince, now - since < Self.crossingWindow { return nil }
        route.crossedInitiation = nil
        return now - crossed.at < Self.crossedInitiationLifetime ? crossed.packet : nil
    }

    // MARK: holding packets

    /// Keeps a packet no relay can carry now; the oldest beyond `holdLimit.packets` are dropped.
    /// A handshake initiation replaces the one held before it: WireGuard answers only its newest
    /// initiation's response, so an older one sent late (the regions lab saw it) brings back a
    /// response that is dropped, and the pair waits for WireGuard's next try, 5 s on.
    func hold(_ packet: [UInt8], on route: Route, now: Double) {
        if Self.isInitiation(packet) {
            let before = route.held.count
            route.held.removeAll { Self.isInitiation($0) }
            route.packetsDropped &+= UInt64(before - route.held.count)
        }
        route.held.append(packet)
        if route.held.count > Self.holdLimit.packets {
            route.packetsDropped &+= UInt64(route.held.count - Self.holdLimit.packets)
            route.held.removeFirst(route.held.count - Self.holdLimit.packets)
        }
        route.heldSince = route.heldSince ?? now
    }

    private static func isInitiation(_ packet: [UInt8]) -> Bool {
        packet.first == 1 && packet.withUnsafeBytes { WireGuardMessageShape.isHandshake($0) }
    }

    /// The held packets, handed over for sending through `relay`.
    func takeHeld(from route: Route, via relay: PublicKey) -> [[UInt8]] {
        let packets = route.held
        recordSent(route, count: packets.count, via: relay)
        route.held = []
        route.heldSince = nil
        return packets
    }

    /// Drops held packets once they have waited `holdLimit.seconds`.
    func dropExpiredHeld(from route: Route, now: Double) {
        guard let since = route.heldSince, now - since >= Self.holdLimit.seconds else { return }
        route.packetsDropped &+= UInt64(route.held.count)
        route.held = []
        route.heldSince = nil
    }

    // MARK: channels

    /// The endpoint WireGuard may send the route's packets to directly: the channel on the
    /// relay the engine would choose for them now, granted under its current registration.
    func currentChannel<Link: RouteLink>(of route: Route, links: [PublicKey: Link], now: Double) -> Endpoint? {
        guard let channel = route.channel, let link = chooseLink(for: route, links: links, now: now), link.relayKey == channel.relay,
              link.transport == .udp, link.sessionID == channel.session else { return nil }
        return Endpoint(address: link.relayAddress, port: channel.port)
    }

    /// Whether the current channels differ from those last reported (and records them).
    mutating func channelsChanged<Link: RouteLink>(links: [PublicKey: Link], now: Double) -> Bool {
        var current: [PublicKey: Endpoint] = [:]
        for (key, route) in routes { current[key] = currentChannel(of: route, links: links, now: now) }
        guard current != reportedChannels else { return false }
        reportedChannels = current
        return true
    }

    /// The link to ask for the route's channel through now, if one is due; records the request.
    /// A relay that sees this member elsewhere than `ownAddresses` (nil: not known) is asked for none,
    /// nor one the peer's packets have not come through: a peer that is not there (offline, or
    /// registered on other relays) would get a channel that carries nothing, and since channel
    /// packets bypass the engine, no peer-unknown answer would ever move the route off it (the
    /// regions lab saw a pair stuck that way for good, and offline peers given a channel on every
    /// relay the route tried).
    func channelRequestDue<Link: RouteLink>(for route: Route, links: [PublicKey: Link], ownAddresses: OwnAddresses? = nil,
                                            now: Double) -> Link? {
        guard !route.automatic, let link = chooseLink(for: route, links: links, now: now), link.transport == .udp,
              link.sessionID != 0, route.lastInboundVia == link.relayKey else { return nil }
        if let ownAddresses, let observed = link.observedAddress, !ownAddresses.admitsChannels(seenAt: observed) { return nil }
        let relay = link.relayKey
        if let channel = route.channel, channel.relay == relay, channel.session == link.sessionID,
           now - channel.granted < Self.channelRenew { return nil }
        if let refused = route.channelRefused[relay], now - refused < Self.channelRefusedHold { return nil }
        if let requested = route.channelRequested, requested.relay == relay, now - requested.at < Self.channelRetry { return nil }
        route.channelRequested = (relay, now)
        return link
    }

    /// Gives the peer's channel up and holds its relay off asking for another; false when the
    /// peer has no channel.
    mutating func refuseChannel(of peer: PublicKey, now: Double) -> Bool {
        guard let route = routes[peer], let channel = route.channel else { return false }
        route.channelRefused[channel.relay] = now
        route.channel = nil
        route.channelRequested = nil
        route.channelReleasing = (channel.relay, now, 0)
        return true
    }

    /// What to do with a channel frame the relay does not answer (a release or a close), sent
    /// `tries` times so far, last at `sent`: send it through the link now, wait, or stop after
    /// `channelReleaseTries` or once the relay is no longer registered.
    private enum Repeat<Link> {
        case send(Link), wait, done
    }

    private static func repeatDue<Link: RouteLink>(relay: PublicKey, sent: Double, tries: Int, links: [PublicKey: Link],
                                                   now: Double) -> Repeat<Link> {
        guard tries < channelReleaseTries, let link = links[relay], link.sessionID != 0 else { return .done }
        return tries == 0 || now - sent >= channelRetry ? .send(link) : .wait
    }

    /// The link to send the route's channel release through now, if one is due; records the
    /// try (`repeatDue`).
    func channelReleaseDue<Link: RouteLink>(for route: Route, links: [PublicKey: Link], now: Double) -> Link? {
        guard let releasing = route.channelReleasing else { return nil }
        switch Self.repeatDue(relay: releasing.relay, sent: releasing.sent, tries: releasing.tries, links: links, now: now) {
        case .send(let link):
            route.channelReleasing = (releasing.relay, now, releasing.tries + 1)
            return link
        case .wait: return nil
        case .done:
            route.channelReleasing = nil
            return nil
        }
    }

    /// The peers whose closed route's channel to close now, with the link to send the close
    /// through; records the tries (`repeatDue`). A relay delivers the peer's packets raw out of
    /// a channel while this end's WireGuard sent through it within a minute: left open when the
    /// pair went direct, and the NAT in front of this member then forgot the channel's mapping
    /// (a conntrack flush), the peer's packets through the relay were lost until this end found
    /// its direct path dead too (the soak: 10 s).
    mutating func channelClosesDue<Link: RouteLink>(links: [PublicKey: Link], now: Double) -> [(peer: PublicKey, link: Link)] {
        var due: [(peer: PublicKey, link: Link)] = []
        for (peer, closing) in channelsClosing {
            switch Self.repeatDue(relay: closing.relay, sent: closing.sent, tries: closing.tries, links: links, now: now) {
            case .send(let link):
                channelsClosing[peer] = (closing.relay, now, closing.tries + 1)
                due.append((peer, link))
            case .wait: continue
            case .done: channelsClosing[peer] = nil
            }
        }
        return due
    }

    /// `link`'s relay answered a channel request for `peer` with `port` (0: none).
    mutating func channelGranted<Link: RouteLink>(_ peer: PublicKey, port: UInt16, by link: Link, now: Double) {
        guard let route = routes[peer] else { return }
        let relay = link.relayKey
        // A channel only answers a request still outstanding: a renewal's answer that arrives
        // after the agent gave the channel up (both are due 30 s after a grant; on a WAN the
        // answer is a round trip late) brought the channel back, and the pair stayed on a
        // firewalled channel port for another 30 s.
        guard port == 0 || route.channelRequested?.relay == relay else { return }
        route.channelRequested = nil
        guard port != 0 else {
            route.channelRefused[relay] = now
            if route.channel?.relay == relay { route.channel = nil }
            return
        }
        route.channelRefused[relay] = nil
        route.channel = (relay, port, link.sessionID, now)
        if grantedChannels.count >= Self.maxGrantedChannels { grantedChannels.removeAll() }
        grantedChannels.insert(Endpoint(address: link.relayAddress, port: port))
    }
}
