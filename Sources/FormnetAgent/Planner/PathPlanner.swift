import Foundation
import FormnetKit
import RelayClient
import FormnetTraversal
import Logging
import WireGuard

/// Runs one `TraversalMachine` per peer against the WireGuard device: feeds it candidates, NAT
/// types and handshakes, turns its actions into device updates, and records the outcomes in the
/// connection cache and the status file `formnet show` reads. With relay routes, a peer the
/// machine declares unreachable is routed through a relay at once, and stays relayed until its
/// inputs change (a NAT type or candidate) or its packets start arriving directly; its route
/// follows the relays it reports, home first.
struct PathPlanner {
    /// What a machine was last started with; a change restarts it (a connected peer stays so).
    struct Inputs: Equatable {
        var candidates: [Candidate]
        var samePublicAddress: Bool
        var local: NatType
        var peer: NatType
    }

    struct PeerTraversal {
        var machine: TraversalMachine
        var inputs: Inputs
        var desired: DesiredPeer
        /// When the peer was last re-added for the current attempt.
        var lastKick: Double = 0
        /// WireGuard's receive counter for the peer at the first pass after that re-add (nil
        /// until then): more since is a packet of the peer's that WireGuard took (`crossed`).
        var kickRx: UInt64?
        /// The start of the attempt in which initiations crossed (`TraversalMachine.Phase`).
        var crossedAttempt: Double?
        /// The relays the peer reported, home first.
        var peerRelays: [PublicKey] = []
        /// The peer's tunnel IP, where RTT probes go.
        var address: IPAddress?
        /// Its name in the network, for what the daemon says.
        var name: String?
        /// While relayed: the `DirectTrialSchedule` slot of the next background direct attempt.
        var nextTrialSlot: Int?
        /// Background trials that failed since the pair was last direct or its inputs changed.
        var failedTrials = 0
        /// While WireGuard sends to the route's relay channel for the peer: whether it carries
        /// packets.
        var channelWatch: ProbedPathWatch?
        /// When the peer was last routed through the relays: a handshake after it went through one.
        var relayedSince: Double?
        /// Why it was routed through the relays, for `show`.
        var relayReason: String?
        /// WireGuard's receive counter for the peer when the route was first seen.
        var relayedRx: UInt64?
        /// While connected directly: whether the path still carries packets.
        var directWatch: ProbedPathWatch?
        /// Since when WireGuard's endpoint for a directly connected peer is a relay's (the peer
        /// relays to us), for `followRelayAfter`.
        var relayedEndpointSince: Double?
        /// Since when WireGuard's endpoint for a relayed peer is not a relay's (the peer's
        /// initiation came directly), for `directArrivalGrace`.
        var directArrivalSince: Double?
        /// The relay proxy or channel WireGuard last sent to for the relayed peer, as seen or as
        /// set: another endpoint after it is where the peer's packets came from, not one of our
        /// candidates that the update to the relay has not replaced yet, nor a channel just released.
        var relayEndpoint: Endpoint?
        /// When WireGuard was last pointed at the route's channel while the peer's packets had
        /// roamed it to another relay endpoint (`channelRepointHold`).
        var channelPointedAt: Double?
    }

    /// WireGuard sends one initiation per re-add and retries only after 5 s. Both ends send one
    /// as they start a candidate (the follower's opens its NAT to the leader's), and on a WAN the
    /// two cross: each end answers the other's, which replaces its own handshake in progress, so
    /// both drop the response to their own and neither session completes. The pair's leader
    /// (`PairRoles`) re-adds again within the attempt; its second initiation finds the way open
    /// and nothing crossing it, since the follower sends one per candidate only. When both
    /// re-added at the same pace, in step, their initiations crossed every time on a 150 ms path.
    static let rekickAfter = 0.4

    /// The leader's re-adds come at least twice the estimated round trip apart: each ends the
    /// handshake its last initiation started, so a response must be back before the next one
    /// (at 450 ms between two members, a 0.4 s pace ended every one of them). The estimate is
    /// this end's alone and is short by the difference of the two ends' access links (a member
    /// 150 ms from its relay, 450 ms from a peer behind a double NAT, re-sent at 0.45 s just
    /// before the response came); a crossing, the usual reason for a re-send, does not wait for
    /// the pace (`crossedInitiation`).
    static func rekickInterval(pathRTT: Double?) -> Double {
        max(rekickAfter, 2 * (pathRTT ?? 0))
    }

    /// A candidate gets its first initiation, one re-sent, and the response to that one; twice
    /// that once a crossing was seen in the attempt (the path works; the re-send is coming).
    static func attemptTimeout(pathRTT: Double?, crossed: Bool = false) -> Double {
        max(TraversalMachine.Timing().attemptTimeout, rekickInterval(pathRTT: pathRTT) + 1.5 * (pathRTT ?? 0)) * (crossed ? 2 : 1)
    }

    /// A member's round trip to another, as far as this end can tell before they have a path:
    /// twice its own to the nearest relay that answers (the relays are public hosts, as a peer's
    /// NAT is, roughly; both ends' access links count once each). nil before any relay answered.
    /// A link still registering counts: its first sample is the register frame's answer, which
    /// comes a round trip before the registration does where the relay asks for a cookie.
    var pathRTTEstimate: Double? {
        guard let links = relay?.status.links.values else { return nil }
        return links.filter { link in
            if link.usable { return true }
            if case .registering = link.phase { return true }
            return false
        }.compactMap { RelaySelection.smoothedRTT($0.rttSamples, minimumSamples: 1) }.min().map { 2 * $0 }
    }
    /// Candidates that all failed within this window are not tried again when the daemon
    /// starts: the peer is relayed at once (and trials look for a direct path in the background).
    static let recentFailureWindow = 600.0
    /// A relayed path counts as carrying packets while its last handshake is younger than this:
    /// WireGuard starts a new one after 120 s of sending (keepalives included), and gives a
    /// session up after 180 s.
    static let relayedHandshakeFresh = 180.0
    /// A directly connected peer whose packets have arrived through a relay this long is routed
    /// through the relays as ours too (`followPeerOntoRelay`).
    static let followRelayAfter = 5.0
    /// A relayed peer whose initiation came directly is left so long for the handshake to
    /// complete (the peer's first packet, a round trip after our response) before WireGuard is
    /// pointed back at the relay: a 300 ms path with a lost packet needs more than a second.
    static let directArrivalGrace = 3.0
    /// A handshake this recent through an endpoint that is not a relay's is a direct path the
    /// peer found: adopted, not attempted again.
    static let freshDirectHandshake = 30.0
    /// WireGuard, roamed by the peer's packets to a relay endpoint other than the route's
    /// channel, is pointed back at the channel at most this often. While the two ends' engines
    /// still disagree on the relay (the follower has not yet seen the leader's packets come
    /// through its choice), each packet roams it again and each roam woke the planner: a one-way
    /// cut saw the endpoint swapped between two relays' channels every 3 ms for 0.9 s.
    static let channelRepointHold = 1.0
    /// WireGuard's keepalive while it sends through a relay's channel. The relay delivers the
    /// peer's packets raw to the address this end's WireGuard last sent from; when the NAT in
    /// front forgets that mapping (a conntrack flush, a rebooted router) they are lost until
    /// WireGuard sends again, and an end that only receives sends nothing but its keepalives: at
    /// the network's 25 s the soak lost a pair whose other end is TCP-only for 15 s. The first
    /// keepalive after the flush teaches the relay the new mapping, and keeps it open on NATs
    /// that forget idle mappings within 30 s.
    static let channelKeepalive: UInt16 = 5

    let network: String
    let options: TraversalOptions
    let logger: Logger
    var peers: [PublicKey: PeerTraversal] = [:]
    private(set) var ownKey: PublicKey?
    /// What each candidate did (`Paths.connectionCache`), and what `formnet show` reads
    /// (`Paths.traversalStatus`): the daemon writes them when they change.
    var cache: ConnectionCache
    var status = TraversalStatus()
    /// The relay routes, when relay fallback is on.
    var relay: RelayRoutes?
    /// The relays' addresses, and the members' candidates at those addresses (a member on a
    /// relay's host): any other endpoint there is a relay channel (`isRelayed`).
    private var relayHosts: (addresses: Set<IPAddress>, members: Set<Endpoint>) = ([], [])

    init(network: String, options: TraversalOptions, cache: ConnectionCache, relay: RelayRoutes?, logger: Logger) {
        self.network = network
        self.options = options
        self.cache = cache
        self.relay = relay
        self.logger = logger
    }

    /// Whether any peer is trying candidates: the loop then ticks fast.
    var isAttempting: Bool {
        peers.values.contains { if case .attempting = $0.machine.phase { true } else { false } }
    }

    /// Attempting, checking a direct path, or waiting for a relay to become usable for an
    /// unreachable peer: the loop then ticks fast, so the relayed path starts as soon as a
    /// registration completes, and a dead direct path is left as soon as the probes say so.
    func needsFastTick(now: Double) -> Bool {
        isAttempting || peers.values.contains { $0.directWatch?.checking == true || $0.channelWatch?.checking == true } || (relay != nil && peers.contains { key, entry in
            if case .unreachable = entry.machine.phase { relay?.proxy(for: key) == nil } else { false }
        }) || trialWithinASecond(now: now)
    }

    /// A relayed pair's direct trial starts within a second: both hosts must start it within
    /// a tick of the slot, so they tick fast until then.
    private func trialWithinASecond(now: Double) -> Bool {
        guard let ownKey, let relay else { return false }
        return peers.contains { key, entry in
            guard relay.proxy(for: key) != nil, let slot = entry.nextTrialSlot else { return false }
            return DirectTrialSchedule.slot(now: now + 1, ownKey, key) >= slot
        }
    }

    /// The candidates of a peer as the state shows them: the endpoint the server observed (or the
    /// peer's override) and the host addresses it reported.
    static func candidates(of peer: NetworkPeer) -> [Candidate] {
        var list: [Candidate] = []
        if let endpoint = peer.endpoint { list.append(Candidate(endpoint: endpoint, kind: .serverReflexive)) }
        list += peer.candidates.map { Candidate(endpoint: $0, kind: EndpointKind.classify(hostAddress: $0.address)) }
        return list
    }

    /// Takes a new state or NAT type: starts machines for new peers, restarts those whose
    /// candidates or NAT types changed, forgets removed ones.
    ///
    /// A new peer with a live session on the device (a recent handshake: the daemon restarted
    /// while the interface stayed up) is adopted as connected rather than re-added.
    mutating func plan(state: API.State, desired: [DesiredPeer], ownKey: PublicKey, ownNat: NatType,
                       device: Device?, now: Double) -> DeviceUpdate {
        status.natType = ownNat
        self.ownKey = ownKey
        let byKey = Dictionary(state.peers.map { ($0.publicKey, $0) }, uniquingKeysWith: { first, _ in first })
        let ownPublic = byKey[ownKey]?.endpoint?.address
        let relayAddresses = Set(state.relays.map(\.endpoint.address) + (relay?.status.links.values.map(\.target.endpoint.address) ?? []))
        relayHosts = (relayAddresses, Set(state.peers.flatMap { Self.candidates(of: $0).map(\.endpoint) }.filter { relayAddresses.contains($0.address) }))
        var updates: [PeerUpdate] = []
        var kept = Set<PublicKey>()
        let livePeers = device?.peersByKey ?? [:]
        for want in desired {
            guard let peer = byKey[want.publicKey] else { continue }
            kept.insert(want.publicKey)
            let inputs = Inputs(candidates: Self.candidates(of: peer),
                                samePublicAddress: ownPublic != nil && peer.endpoint?.address == ownPublic,
                                local: ownNat, peer: peer.natType ?? .unknown)
            var entry = peers[want.publicKey] ?? PeerTraversal(machine: TraversalMachine(), inputs: inputs, desired: want)
            let isNew = peers[want.publicKey] == nil
            let previousRelays = entry.peerRelays
            entry.desired = want
            let ordered = CandidateOrdering.order(inputs.candidates, cache: cache.stats(for: want.publicKey),
                                                  samePublicAddress: inputs.samePublicAddress,
                                                  excluded: options.excluded, now: now)
            entry.peerRelays = peer.relays
            entry.address = peer.ip
            entry.name = peer.name
            if isNew, let live = livePeers[want.publicKey], let endpoint = live.endpoint,
               !isRelayed(endpoint),
               let handshake = live.lastHandshake?.timeIntervalSince1970,
               now - handshake < entry.machine.timing.staleAfter {
                let current = ordered.first { $0.endpoint == endpoint } ?? Candidate(endpoint: endpoint, kind: .serverReflexive)
                entry.machine.adopt(current, candidates: ordered, local: inputs.local, peer: inputs.peer, lastHandshake: handshake)
                status.peers[want.publicKey.base64] = .init(path: .direct, endpoint: endpoint, natType: peer.natType)
            } else if !isNew, entry.inputs != inputs, let live = livePeers[want.publicKey], live.endpoint.map({ !isRelayed($0) }) == true,
                      let handshake = live.lastHandshake?.timeIntervalSince1970, now - handshake < Self.freshDirectHandshake {
                // The peer reached us directly just now, and its new candidates or NAT type are
                // its report of the same start: a new round would re-add the peer and end the
                // session its attempt made (a relayed peer is on its relay route meanwhile).
                entry.inputs = inputs
                entry.failedTrials = 0
                peers[want.publicKey] = entry
                _ = takeDirectPathThePeerFound(want.publicKey, entry: entry, live: live, candidates: ordered, now: now)
                entry = peers[want.publicKey] ?? entry
            } else if isNew || entry.inputs != inputs {
                entry.inputs = inputs
                entry.failedTrials = 0
                let stats = cache.stats(for: want.publicKey)
                // Every candidate failed recently and a relay can carry the peer: relay at once.
                let skipAttempts = isNew && relay != nil && !ordered.isEmpty && ordered.allSatisfy { candidate in
                    stats[candidate.endpoint]?.failedRecently(now: now, window: Self.recentFailureWindow) == true
                }
                let actions = skipAttempts
                    ? entry.machine.startWithoutAttempt(candidates: ordered, local: inputs.local, peer: inputs.peer, now: now)
                    : entry.machine.start(candidates: ordered, local: inputs.local, peer: inputs.peer, now: now)
                if actions.contains(where: { if case .attempt = $0 { true } else { false } }) { entry.lastKick = now }
                // `apply` records what it does in `peers` (a peer routed through the relays at
                // once, and since when): stored first and read back, so that none of it is lost.
                peers[want.publicKey] = entry
                updates += apply(actions, peer: want, peerNat: inputs.peer, machine: entry.machine,
                                 device: livePeers[want.publicKey], now: now)
                entry = peers[want.publicKey] ?? entry
            }
            status.peers[want.publicKey.base64]?.natType = peer.natType
            peers[want.publicKey] = entry
            // A relayed peer that reports other relays (a new home, or its first list after we
            // routed it) is reached through them from now on: the engine's preferences were
            // fixed when the route was made, and would keep the old home, or our own, for good.
            if !isNew, entry.peerRelays != previousRelays, relay?.proxy(for: want.publicKey) != nil {
                _ = relay?.route(want.publicKey, peerRelays: entry.peerRelays)
            }
        }
        for key in peers.keys where !kept.contains(key) {
            peers[key] = nil
            status.peers[key.base64] = nil
            relay?.unroute(key)
        }
        return DeviceUpdate(peers: updates)
    }

    /// Advances every machine with the device's latest handshakes.
    mutating func tick(device: Device, now: Double) -> DeviceUpdate {
        var updates: [PeerUpdate] = []
        let pathRTT = pathRTTEstimate
        let livePeers = device.peersByKey
        for (key, entry) in peers {
            var machine = entry.machine
            let live = livePeers[key]
            if let relays = relay?.status {
                if relay?.proxy(for: key) != nil {
                    updates += tickRelayed(key, entry: entry, live: live, relays: relays, now: now)
                    if let trial = startDirectTrialIfDue(key, now: now) {
                        peers[key]?.lastKick = now
                        updates += apply(trial, peer: entry.desired, peerNat: entry.inputs.peer,
                                         machine: peers[key]?.machine ?? machine, device: live, now: now)
                    }
                    continue
                }
                if case .unreachable(let reason, _) = machine.phase, relay?.hasUsableRelay == true {
                    updates += routeThroughRelay(key, entry: entry, reason: reason, relays: relays, current: live?.endpoint, now: now)
                    continue
                }
            }
            // Not relayed now: a later relaying schedules its trials afresh.
            peers[key]?.nextTrialSlot = nil
            if case .connected = machine.phase, relay != nil, let live, let endpoint = live.endpoint, isRelayed(endpoint) {
                // Followed only once it lasts: packets through a relay also arrive for a moment
                // when the two ends of a background trial end it differently, and following
                // those put pairs that had just gone direct back on the relays.
                let since = entry.relayedEndpointSince ?? now
                peers[key]?.relayedEndpointSince = since
                if now - since >= Self.followRelayAfter {
                    updates += followPeerOntoRelay(key, entry: entry, live: live, now: now)
                    continue
                }
                showPeerRelaying(key, entry: entry)
            } else {
                peers[key]?.relayedEndpointSince = nil
                if case .connected(let candidate, _) = machine.phase { showDirectAgain(key, entry: entry, endpoint: live?.endpoint ?? candidate.endpoint) }
            }
            let lost = checkDirectPath(key, machine: &machine, live: live, now: now)
            if !lost.isEmpty {
                peers[key]?.machine = machine
                updates += apply(lost, peer: entry.desired, peerNat: entry.inputs.peer, machine: machine, device: live, now: now)
                continue
            }
            let leads = ownKey.map { PairRoles.leads($0, peer: key) } ?? true
            let crossed = crossedInitiation(key, entry: entry, live: live)
            // The peer's initiation reached us: the path works that way, and the leader re-sends
            // as soon as it sees the crossing. Giving up at our own pace sent a double NAT 450 ms
            // away onto the relay, whose initiation crossed the leader's next one.
            let attemptCrossed = crossed || machine.attemptStarted.map { $0 == entry.crossedAttempt } == true
            let timeout = Self.attemptTimeout(pathRTT: pathRTT, crossed: attemptCrossed)
            let actions = machine.tick(now: now, lastHandshake: live?.lastHandshake?.timeIntervalSince1970, attemptTimeout: timeout)
            peers[key]?.machine = machine
            updates += apply(actions, peer: entry.desired, peerNat: entry.inputs.peer, machine: machine, device: live, now: now)
            // No re-send once WireGuard has roamed to a relay: the peer relays to us and its
            // initiation came through, which WireGuard answered; a re-add would end that session
            // before the peer's first packet confirms it (a UDP-blocked peer that registered
            // with its relay within 0.2 s lost its first handshake so, 1.4 s to a first packet).
            // A crossing is re-sent at once: WireGuard answered the follower's initiation, which
            // ended ours, and the response to ours will be dropped (a 450 ms path waited 0.9 s
            // for the re-send's pace).
            if actions.isEmpty, case .attempting(let index, _) = machine.phase, leads,
               crossed || now - entry.lastKick >= Self.rekickInterval(pathRTT: pathRTT),
               live?.endpoint.map({ !isRelayed($0) }) ?? true {
                // Once the peer's packets reached us in this attempt, WireGuard's endpoint is where
                // they came from: the peer's NAT may have mapped it to another port than the
                // candidate's (on the WAN lab a double NAT's outer router did, its port taken by a
                // packet of ours that arrived first), and a re-send to the candidate was dropped.
                var candidate = machine.candidates[index]
                if attemptCrossed, let roamed = live?.endpoint { candidate = Candidate(endpoint: roamed, kind: candidate.kind) }
                updates += apply([.attempt(candidate)], peer: entry.desired, peerNat: entry.inputs.peer,
                                 machine: machine, device: live, now: now)
            }
        }
        updates += keepaliveCorrections(device: device.applying(DeviceUpdate(peers: updates)))
        return DeviceUpdate(peers: updates)
    }

    /// Whether WireGuard took a packet of the peer's, directly, since the attempt's re-add without
    /// completing a handshake: the peer's initiation, which WireGuard answered (a response that
    /// crosses ours is dropped before it counts). Records the counter on the first pass after
    /// the re-add: one read before the re-add took effect counts the old session's packets, one
    /// after it starts from zero, and neither reads as a crossing.
    private mutating func crossedInitiation(_ key: PublicKey, entry: PeerTraversal, live: Peer?) -> Bool {
        guard let started = entry.machine.attemptStarted, let live, let endpoint = live.endpoint, !isRelayed(endpoint) else { return false }
        guard let baseline = entry.kickRx else {
            peers[key]?.kickRx = live.rxBytes
            return false
        }
        let handshake = live.lastHandshake?.timeIntervalSince1970 ?? 0
        guard live.rxBytes > baseline, handshake < started else { return false }
        peers[key]?.crossedAttempt = started
        return true
    }

    /// Keepalives shortened while WireGuard sends through a relay's channel, and given back when
    /// it stops, whichever part of the planner moved the endpoint or WireGuard roamed it. Only
    /// the channel's keepalive is the planner's to set and to take back; any other is the
    /// state's (`MemberPlanner.stateUpdate`).
    private func keepaliveCorrections(device: Device) -> [PeerUpdate] {
        device.peers.compactMap { live in
            guard let desired = peers[live.publicKey]?.desired.persistentKeepalive else { return nil }
            let keepalive = wireGuardKeepalive(desired: desired, endpoint: live.endpoint)
            guard live.persistentKeepalive != keepalive,
                  keepalive != desired || live.persistentKeepalive == Self.channelKeepalive else { return nil }
            return PeerUpdate(publicKey: live.publicKey, action: .updateOnly, persistentKeepalive: keepalive)
        }
    }

    /// A connected direct peer whose path stopped carrying packets (`ProbedPathWatch`): the
    /// machine's `pathLost`, so that it is relayed, or tried again, now.
    private mutating func checkDirectPath(_ key: PublicKey, machine: inout TraversalMachine, live: Peer?,
                                          now: Double) -> [TraversalMachine.Action] {
        guard case .connected = machine.phase, let live, let endpoint = live.endpoint, !isRelayed(endpoint) else {
            peers[key]?.directWatch = nil
            return []
        }
        var watch = peers[key]?.directWatch ?? ProbedPathWatch(endpoint: endpoint, rx: live.rxBytes, tx: live.txBytes, now: now)
        let verdict = watch.observe(endpoint: endpoint, rx: live.rxBytes, tx: live.txBytes, keepalive: live.persistentKeepalive, now: now)
        guard verdict == .dead else {
            peers[key]?.directWatch = watch
            return []
        }
        peers[key]?.directWatch = nil
        logger.info("\(network): \(label(key)): the direct path at \(endpoint) stopped carrying packets (\(watch.reason(now: now)))")
        return machine.pathLost(now: now)
    }

    /// The peers for the tunnel prober to measure: the directly connected ones, and the relayed
    /// ones whose WireGuard sends through a relay channel; urgently those whose path is being
    /// checked.
    func probeTargets(device: Device) -> [TunnelProbeBook.Target] {
        let livePeers = device.peersByKey
        return peers.compactMap { key, entry in
            guard let address = entry.address, let endpoint = livePeers[key]?.endpoint else { return nil }
            if let watch = entry.channelWatch, watch.endpoint == endpoint {
                return TunnelProbeBook.Target(peer: key, address: address, endpoint: endpoint, urgent: watch.checking)
            }
            guard case .connected = entry.machine.phase, relay?.proxy(for: key) == nil, !isRelayed(endpoint) else { return nil }
            return TunnelProbeBook.Target(peer: key, address: address, endpoint: endpoint, urgent: entry.directWatch?.checking == true)
        }.sorted { $0.peer.base64 < $1.peer.base64 }
    }

    /// Files what the prober measured under the endpoint each probe went to.
    mutating func record(_ outcomes: [TunnelProbeBook.Outcome], now: Double) {
        for outcome in outcomes {
            guard let entry = peers[outcome.peer] else { continue }
            if entry.directWatch?.endpoint == outcome.endpoint { peers[outcome.peer]?.directWatch?.probe(lost: outcome.lost) }
            if entry.channelWatch?.endpoint == outcome.endpoint { peers[outcome.peer]?.channelWatch?.probe(lost: outcome.lost) }
            // The connection cache scores the peer's own candidates, not relays.
            if isRelayed(outcome.endpoint) { continue }
            let kind = cache.stats(for: outcome.peer)[outcome.endpoint]?.kind
                ?? entry.machine.candidates.first { $0.endpoint == outcome.endpoint }?.kind ?? .serverReflexive
            var measured: EndpointStats?
            cache.update(peer: outcome.peer, endpoint: outcome.endpoint, kind: kind, now: now) {
                $0.recordProbe(rtt: outcome.rtt, lost: outcome.lost)
                measured = $0
            }
            if status.peers[outcome.peer.base64]?.endpoint == outcome.endpoint {
                status.peers[outcome.peer.base64]?.rtt = measured?.rtt
                status.peers[outcome.peer.base64]?.loss = measured?.loss
            }
        }
    }

    private mutating func apply(_ actions: [TraversalMachine.Action], peer: DesiredPeer, peerNat: NatType,
                                machine: TraversalMachine, device: Peer?, now: Double) -> [PeerUpdate] {
        let key = peer.publicKey
        var updates: [PeerUpdate] = []
        for action in actions {
            switch action {
            case .attempt(let candidate):
                // An attempt must not complete through the relay: packets from the proxy would
                // roam the endpoint back to it and pass for a direct handshake.
                if relay?.proxy(for: key) != nil { relay?.unroute(key) }
                logger.debug("\(network): \(label(key)): trying \(candidate.endpoint) (\(candidate.kind.rawValue)): WireGuard re-added there")
                // Removing and re-adding clears WireGuard's handshake rate limit, so the
                // initiation toward this candidate leaves at once.
                updates.append(.remove(key))
                updates.append(PeerUpdate(publicKey: key, endpoint: candidate.endpoint,
                                          persistentKeepalive: peer.persistentKeepalive,
                                          replaceAllowedIPs: true, allowedIPs: peer.allowedIPs))
                status.peers[key.base64] = .init(path: .connecting, endpoint: candidate.endpoint, natType: peerNat)
                peers[key]?.lastKick = now
                peers[key]?.kickRx = nil
            case .connected(let candidate, let after):
                // A handshake the peer started may have roamed the endpoint to where it came from.
                let endpoint = device?.endpoint ?? candidate.endpoint
                if isRelayed(endpoint), relay != nil, let entry = peers[key] {
                    // The peer relays to us and the handshake came through its relay, not
                    // through the candidate: keep the relayed path (now routed as ours too).
                    if let proxy = relay?.route(key, peerRelays: entry.peerRelays), proxy != endpoint {
                        updates.append(PeerUpdate(publicKey: key, action: .updateOnly, endpoint: proxy))
                    }
                    status.peers[key.base64] = .init(path: .relayed, natType: peerNat, reason: Self.peerRelaysToUs)
                    peers[key]?.relayedSince = device?.lastHandshake?.timeIntervalSince1970 ?? now
                    peers[key]?.relayReason = Self.peerRelaysToUs
                    continue
                }
                let kind = machine.candidates.first { $0.endpoint == endpoint }?.kind ?? candidate.kind
                cache.update(peer: key, endpoint: endpoint, kind: kind, now: now) {
                    $0.recordSuccess(at: now, timeToHandshake: after)
                }
                status.peers[key.base64] = .init(path: .direct, endpoint: endpoint, natType: peerNat, timeToHandshake: after)
                peers[key]?.failedTrials = 0
                logger.info("\(network): \(label(key)): direct path at \(endpoint) (\(candidate.kind.rawValue)) after \(String(format: "%.2f", after)) s")
            case .failed(let candidate):
                logger.debug("\(network): \(label(key)): no handshake through \(candidate.endpoint) (WireGuard's endpoint now \(device?.endpoint.map { "\($0)" } ?? "none"))")
                cache.update(peer: key, endpoint: candidate.endpoint, kind: candidate.kind, now: now) {
                    $0.recordFailure(at: now)
                }
            case .unreachable(let reason):
                if let relays = relay?.status, relay?.hasUsableRelay == true, let entry = peers[key] {
                    updates += routeThroughRelay(key, entry: entry, reason: reason, relays: relays, current: device?.endpoint, now: now)
                    continue
                }
                var endpoint = device?.endpoint
                if case .exhausted = reason, let best = machine.candidates.first {
                    // Back to the likeliest candidate until the next round: if the peer's own
                    // attempts open the way, keepalives sent there complete a handshake.
                    updates.append(PeerUpdate(publicKey: key, action: .updateOnly, endpoint: best.endpoint))
                    endpoint = best.endpoint
                }
                // Said once per change: unreachable pairs are re-checked every minute or so.
                if status.peers[key.base64]?.reason != Self.describe(reason) {
                    logger.info("\(network): \(label(key)): no direct path (\(Self.describe(reason)))")
                }
                status.peers[key.base64] = .init(path: .unreachableDirect, endpoint: endpoint, natType: peerNat,
                                                 reason: Self.describe(reason))
            }
        }
        return updates
    }

    /// Whether packets from this endpoint came through a relay: a proxy, or a relay's channel,
    /// granted to this agent's engine or not. A channel granted before the agent restarted is one
    /// the new engine does not know; WireGuard kept sending through it, and the restarted agent
    /// took it for a direct path it had found (the soak: when the peer's NAT later forgot its side,
    /// the pair was unreachable for 15 s).
    func isRelayed(_ endpoint: Endpoint) -> Bool {
        if relayHosts.addresses.contains(endpoint.address), !relayHosts.members.contains(endpoint) { return true }
        return relay?.isRelayed(endpoint) ?? RelayClientEngine.isProxy(endpoint)
    }

    /// The keepalive WireGuard should have for a peer it sends to at `endpoint`: the network's,
    /// shortened to `channelKeepalive` on a relay's channel. A network that turned keepalives off
    /// keeps them off.
    func wireGuardKeepalive(desired: UInt16, endpoint: Endpoint?) -> UInt16 {
        guard desired != 0, let endpoint, !RelayClientEngine.isProxy(endpoint), isRelayed(endpoint) else { return desired }
        return min(desired, Self.channelKeepalive)
    }

    /// "name (key)" for what the daemon says: names are what people know, keys are what is unique.
    func label(_ key: PublicKey) -> String {
        peers[key]?.name.map { "\($0) (\(key.base64.prefix(8))…)" } ?? key.base64
    }

    static func describe(_ reason: TraversalMachine.Reason) -> String {
        switch reason {
        case .natTypes(let local, let peer): "NAT types \(local.rawValue) and \(peer.rawValue)"
        case .exhausted: "no candidate answered"
        case .noCandidates: "no candidates"
        case .failedRecently: "every candidate failed recently"
        case .pathLost: "the direct path stopped carrying packets"
        }
    }
}
