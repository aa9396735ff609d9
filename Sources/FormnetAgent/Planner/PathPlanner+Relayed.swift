import Foundation
import FormnetKit
import RelayClient
import FormnetTraversal
import WireGuard

/// The relayed half of `PathPlanner`: routing a peer through the relays, following the
/// route's channel, giving up a channel that carries nothing back, and the background trials
/// that take a relayed pair back to a direct path.
extension PathPlanner {
    /// A relayed peer whose pair could go direct tries its candidates again at the pair's
    /// trial slot (both hosts at once); failing, it is relayed again, succeeding, the relay
    /// route closes.
    mutating func startDirectTrialIfDue(_ key: PublicKey, now: Double) -> [TraversalMachine.Action]? {
        // Still relayed: the tick may just have moved it to a direct path the peer found.
        guard let ownKey, let entry = peers[key], relay?.proxy(for: key) != nil, entry.machine.directPossible else { return nil }
        // The peer's packets arrive directly: its side's trial reached us; the handshake is
        // completing, and our own attempt would re-add the peer and end it.
        guard entry.directArrivalSince.map({ now - $0 >= Self.directArrivalGrace }) ?? true else { return nil }
        guard let slot = entry.nextTrialSlot else {
            peers[key]?.nextTrialSlot = DirectTrialSchedule.firstTrialSlot(relayedAt: now, ownKey, key)
            return nil
        }
        let current = DirectTrialSchedule.slot(now: now, ownKey, key)
        guard current >= slot else { return nil }
        peers[key]?.nextTrialSlot = current + 1
        // Pairs that keep failing (a peer behind a firewall its NAT type does not show) try
        // less often; both hosts of a pair fail the same trials, so they skip the same slots.
        guard DirectTrialSchedule.tries(slot: current, afterFailures: entry.failedTrials) else { return nil }
        // With no NAT here and a symmetric one there, only the peer's initiations can open the
        // path (its port toward us is one we cannot know): this end waits for them, as it is,
        // instead of re-adding the peer at the slot, which ended the session the peer's trial
        // had just made whenever its tick came a moment before ours.
        guard !(entry.inputs.local == .open && entry.inputs.peer == .symmetric) else { return nil }
        peers[key]?.failedTrials += 1
        logger.info("\(network): \(label(key)): relayed; trying a direct path again (both sides at once)")
        return peers[key]?.machine.retryDirect(now: now)
    }

    /// Points the peer at its relay proxy; re-added so the first initiation leaves at once.
    /// The path shows as connecting through the relay until a handshake goes through it.
    /// - Parameter current: WireGuard's endpoint for the peer now.
    mutating func routeThroughRelay(_ key: PublicKey, entry: PeerTraversal, reason: TraversalMachine.Reason,
                                    relays: RelayEngineStatus, current: Endpoint?, now: Double) -> [PeerUpdate] {
        let routedBefore = relay?.proxy(for: key)
        guard let proxy = relay?.route(key, peerRelays: entry.peerRelays) else { return [] }
        if routedBefore == proxy {
            // Relayed already (a NAT type or candidates learned since): re-adding the peer would
            // end the handshake under way through the relay, and on a WAN the next one's
            // response came back only after yet another re-add.
            peers[key]?.relayReason = Self.describe(reason)
            if status.peers[key.base64]?.path == .relayConnecting {
                status.peers[key.base64]?.reason = Self.connecting(Self.describe(reason))
            }
            return []
        }
        let via = Self.likelyRelay(peerRelays: entry.peerRelays, ranked: relay?.ranked ?? [], relays: relays)
        logger.info("\(network): \(label(key)): relaying (\(Self.describe(reason))) through \(via.map { "\($0.target.endpoint)" } ?? "a relay, once one answers")")
        peers[key]?.relayedSince = now
        peers[key]?.relayedRx = nil
        peers[key]?.relayEndpoint = nil
        peers[key]?.relayReason = Self.describe(reason)
        status.peers[key.base64] = .init(path: .relayConnecting, endpoint: via?.target.endpoint, natType: entry.inputs.peer,
                                         reason: Self.connecting(Self.describe(reason)),
                                         relay: via?.target.key.base64)
        // WireGuard already sends to the proxy: the peer's packets came through the relay first
        // (its side relayed sooner) and roamed it there, so WireGuard has answered the peer's
        // initiation. Re-adding the peer would end that handshake a round trip before it
        // completes: at 300 ms a pp <-> symmetric pair shook hands twice, 1.58 s to a first packet.
        // The same when it sends through the channel of the route the engine made for those
        // packets (2.45 s in one run of the same pair).
        if let current, current == proxy || current == relay?.wireGuardEndpoint(for: key) { return [] }
        return [.remove(key), PeerUpdate(publicKey: key, endpoint: proxy, persistentKeepalive: entry.desired.persistentKeepalive,
                                         replaceAllowedIPs: true, allowedIPs: entry.desired.allowedIPs)]
    }

    /// What `show` says of a peer routed through the relays before its first handshake there.
    static func connecting(_ why: String) -> String { "no handshake through the relay yet; \(why)" }

    /// Why `show` says relayed while a directly connected peer's packets come through a relay
    /// and WireGuard answers there, before `followRelayAfter` makes the route this member's.
    static let peerRelaysToUs = "the peer relays to us"

    /// `show` tells what WireGuard does at once: it sends where the peer's packets come from, a
    /// relay. Saying direct until the route was followed (5 s) left a dead direct path shown as
    /// carrying packets: 12 s after a cut, the end that only answers still said direct on the WAN.
    mutating func showPeerRelaying(_ key: PublicKey, entry: PeerTraversal) {
        guard status.peers[key.base64]?.path == .direct else { return }
        let route = relay?.status.routes[key]
        let via = (route?.lastInboundVia ?? route?.channelVia).flatMap { relay?.status.links[$0] }
        status.peers[key.base64] = .init(path: .relayed, endpoint: via?.target.endpoint, natType: entry.inputs.peer,
                                         reason: Self.peerRelaysToUs, relay: via?.target.key.base64)
    }

    /// The peer's packets arrive directly again before the route was followed: direct again.
    mutating func showDirectAgain(_ key: PublicKey, entry: PeerTraversal, endpoint: Endpoint) {
        guard let shown = status.peers[key.base64], shown.path == .relayed, shown.reason == Self.peerRelaysToUs else { return }
        status.peers[key.base64] = .init(path: .direct, endpoint: endpoint, natType: entry.inputs.peer)
    }

    /// A directly connected peer whose packets now arrive through a relay (its side found the
    /// path dead first; WireGuard roamed the endpoint to the relay's proxy or channel): routed
    /// through the relays as ours too, so that `show` does not keep saying direct, the route is
    /// this member's to keep, and background trials look for the direct path again.
    mutating func followPeerOntoRelay(_ key: PublicKey, entry: PeerTraversal, live: Peer, now: Double) -> [PeerUpdate] {
        guard let proxy = relay?.route(key, peerRelays: entry.peerRelays) else { return [] }
        logger.info("\(network): \(label(key)): its packets arrive through a relay now: relayed (the peer relays to us)")
        peers[key]?.directWatch = nil
        peers[key]?.relayedEndpointSince = nil
        peers[key]?.relayedSince = now
        // Its packets have come through the relay for `followRelayAfter` already: received.
        peers[key]?.relayedRx = 0
        peers[key]?.relayEndpoint = nil
        peers[key]?.relayReason = Self.peerRelaysToUs
        // Shown relayed already (`showPeerRelaying`): packets go through it, so it stays so.
        if status.peers[key.base64]?.path != .relayed {
            status.peers[key.base64] = .init(path: .relayConnecting, natType: entry.inputs.peer,
                                             reason: Self.connecting(Self.peerRelaysToUs))
        }
        // WireGuard already sends where the peer's packets came from; only a proxy other than the
        // route's (an automatic route the engine made, now ours) is replaced.
        guard let current = live.endpoint, RelayClientEngine.isProxy(current), current != proxy else { return [] }
        return [PeerUpdate(publicKey: key, action: .updateOnly, endpoint: proxy)]
    }

    /// The relay a new route will most likely leave through: the first usable of the peer's
    /// relays, else of this member's.
    private static func likelyRelay(peerRelays: [PublicKey], ranked: [PublicKey], relays: RelayEngineStatus) -> RelayEngineStatus.Link? {
        (peerRelays + ranked).lazy.compactMap { relays.links[$0] }.first { $0.usable }
    }

    /// A relayed peer: reports which relay carries it, and takes a direct path when the peer's
    /// packets start arriving directly (its side found one; WireGuard roamed the endpoint).
    mutating func tickRelayed(_ key: PublicKey, entry: PeerTraversal, live: Peer?, relays: RelayEngineStatus,
                                      now: Double) -> [PeerUpdate] {
        if takeDirectPathThePeerFound(key, entry: entry, live: live, now: now) { return [] }
        if let live, let endpoint = live.endpoint, !isRelayed(endpoint) {
            // An initiation of the peer's came directly and WireGuard roamed there; its
            // handshake completes with the peer's first packet. Pointing WireGuard back at the
            // relay before then would answer the peer through it, and the pair would stay relayed.
            // Once in `freshDirectHandshake`: a peer whose direct packets reach us while ours do
            // not reach it (a path cut one way) is answered through the relay after the grace.
            if let since = entry.directArrivalSince {
                if now - since < Self.directArrivalGrace { return [] }
            } else if let relayEndpoint = entry.relayEndpoint, relayEndpoint != endpoint {
                peers[key]?.directArrivalSince = now
                return []
            }
        } else {
            if let endpoint = live?.endpoint { peers[key]?.relayEndpoint = endpoint }
            if let since = entry.directArrivalSince, now - since >= Self.freshDirectHandshake { peers[key]?.directArrivalSince = nil }
        }
        var updates: [PeerUpdate] = []
        // WireGuard roamed to a relay channel that is not the route's: the peer's packets come
        // through that relay, which the engine, bypassed, cannot see.
        if let current = live?.endpoint, !RelayClientEngine.isProxy(current), relays.grantedChannels.contains(current),
           current != relays.routes[key]?.channel {
            relay?.noteChannelInbound(of: key, through: current)
        }
        // WireGuard follows the route's channel when the relay granted one, and goes back to the
        // proxy when it stops being usable (also after a packet through the proxy roamed it there).
        if let wanted = relay?.wireGuardEndpoint(for: key), live?.endpoint != wanted,
           !repointHeld(key, entry: entry, wanted: wanted, current: live?.endpoint, now: now) {
            peers[key]?.relayEndpoint = wanted
            let keepalive = wireGuardKeepalive(desired: entry.desired.persistentKeepalive, endpoint: wanted)
            if RelayClientEngine.isProxy(wanted) || keepalive == 0 {
                updates.append(PeerUpdate(publicKey: key, action: .updateOnly, endpoint: wanted))
            } else {
                // Keepalive off and on again: WireGuard (kernel and wireguard-go alike) sends one at
                // once, through the channel, and the relay learns where this end's WireGuard sends
                // from. Until it knows, it hands the peer's packets to this agent's proxy; WireGuard
                // roamed back to the proxy on each, and a pair whose traffic the other end started
                // never settled on its channels (the kernel VM test saw it flap for good).
                updates.append(PeerUpdate(publicKey: key, action: .updateOnly, persistentKeepalive: 0))
                updates.append(PeerUpdate(publicKey: key, action: .updateOnly, endpoint: wanted, persistentKeepalive: keepalive))
            }
            if !RelayClientEngine.isProxy(wanted) {
                // Where it was: a proxy or another relay's channel it roamed to is what a loop of
                // these lines is about.
                logger.info("\(network): \(label(key)): WireGuard sends through the relay's channel at \(wanted) (it sent to \(live?.endpoint.map { "\($0)" } ?? "nowhere"))")
            }
        }
        if relay != nil, let live, let endpoint = live.endpoint, !RelayClientEngine.isProxy(endpoint),
           endpoint == relays.routes[key]?.channel {
            // The peer's packets come through the route's channel: that relay is where the peer
            // is, for the end that follows it (`RouteTable.chooseLink`). Without it, the relay the
            // pair used before a failover stayed the follower's, and when that relay came back the
            // follower went back to it while the leader stayed: the soak lost a pair for 30 s.
            // Evidence, not where the agent put WireGuard: received since the last tick, there.
            if let route = relays.routes[key], route.lastInboundVia != route.channelVia,
               entry.channelWatch?.received(endpoint: endpoint, rx: live.rxBytes) == true {
                relay?.noteChannelInbound(of: key, through: endpoint)
            }
            var watch = entry.channelWatch ?? ProbedPathWatch(endpoint: endpoint, rx: live.rxBytes, tx: live.txBytes, now: now)
            if watch.observe(endpoint: endpoint, rx: live.rxBytes, tx: live.txBytes, keepalive: live.persistentKeepalive, now: now) == .dead {
                logger.warning("\(network): \(label(key)): nothing came back through the relay's channel at \(endpoint) (\(watch.reason(now: now))); are the relay's channel ports firewalled? Back to its proxy")
                relay?.refuseChannel(of: key)
                if let proxy = relay?.proxy(for: key) {
                    updates.append(PeerUpdate(publicKey: key, action: .updateOnly, endpoint: proxy))
                    peers[key]?.relayEndpoint = proxy
                }
                peers[key]?.channelWatch = nil
            } else {
                peers[key]?.channelWatch = watch
            }
        } else {
            peers[key]?.channelWatch = nil
        }
        reportRelayed(key, entry: entry, live: live, relays: relays, now: now)
        return updates
    }

    /// Whether pointing WireGuard at the route's channel `wanted` waits: it sits at another relay
    /// endpoint, where the peer's packets came from (it works), and was pointed away from one
    /// within `channelRepointHold`. Records the pointing otherwise.
    private mutating func repointHeld(_ key: PublicKey, entry: PeerTraversal, wanted: Endpoint, current: Endpoint?,
                                      now: Double) -> Bool {
        guard !RelayClientEngine.isProxy(wanted), let current, isRelayed(current) else { return false }
        if let last = entry.channelPointedAt, now - last < Self.channelRepointHold { return true }
        peers[key]?.channelPointedAt = now
        return false
    }

    /// A peer whose packets arrive directly in a fresh session (its side found a direct path;
    /// WireGuard roamed the endpoint): connected there, and its relay route closed.
    /// `candidates`: the peer's, when they changed with this state.
    mutating func takeDirectPathThePeerFound(_ key: PublicKey, entry: PeerTraversal, live: Peer?, candidates: [Candidate]? = nil,
                                             now: Double) -> Bool {
        guard let live, let endpoint = live.endpoint, !isRelayed(endpoint),
              let handshake = live.lastHandshake?.timeIntervalSince1970, now - handshake < Self.freshDirectHandshake else { return false }
        let candidates = candidates ?? entry.machine.candidates
        let candidate = candidates.first { $0.endpoint == endpoint } ?? Candidate(endpoint: endpoint, kind: .serverReflexive)
        peers[key]?.machine.adopt(candidate, candidates: candidates, local: entry.inputs.local,
                                  peer: entry.inputs.peer, lastHandshake: handshake)
        peers[key]?.directArrivalSince = nil
        peers[key]?.relayEndpoint = nil
        let wasRelayed = relay?.proxy(for: key) != nil
        if wasRelayed { relay?.unroute(key) }
        if !wasRelayed, case .connected(let current, _) = entry.machine.phase, current.endpoint == endpoint { return true }
        cache.update(peer: key, endpoint: endpoint, kind: candidate.kind, now: now) { $0.recordSuccess(at: now, timeToHandshake: 0) }
        status.peers[key.base64] = .init(path: .direct, endpoint: endpoint, natType: entry.inputs.peer)
        logger.info("\(network): \(label(key)): \(wasRelayed ? "moved from the relay to" : "the peer found") a direct path at \(endpoint)")
        return true
    }

    /// What `show` says of a relayed peer: relayed through the relay that carries its packets
    /// once a handshake went through the relays since it was routed, or packets came back, in a
    /// fresh session (WireGuard rekeys at least every two minutes while packets flow, keepalives
    /// included); before that, or once handshakes stop, connecting through it, with the reason.
    private mutating func reportRelayed(_ key: PublicKey, entry: PeerTraversal, live: Peer?, relays: RelayEngineStatus, now: Double) {
        // A route made without a start time (none is known for it) counts from now on.
        if entry.relayedSince == nil { peers[key]?.relayedSince = now }
        if entry.relayedRx == nil { peers[key]?.relayedRx = live?.rxBytes ?? 0 }
        let since = entry.relayedSince ?? now
        let handshake = live?.lastHandshake?.timeIntervalSince1970
        // A handshake since the route was made (a second's slack: a backend may report whole
        // seconds), or packets received since it was first seen, in a live session: the kernel's
        // handshake can complete in the very pass that made the route, and the next comes only
        // two minutes later.
        let received = entry.relayedRx.map { (live?.rxBytes ?? 0) > $0 } ?? false
        let confirmed = handshake.map { (($0 >= since - 1) || received) && now - $0 < Self.relayedHandshakeFresh } ?? false
        // Relayed: the relay that carries the packets. Connecting: the one the route tries first,
        // not the last one tried: the engine moves through the relays as each answers that the
        // peer is not there, and an offline peer would rewrite the status every few seconds.
        let route = relays.routes[key]
        let carrying = route.flatMap { route in (route.channel == nil ? nil : route.channelVia) ?? route.lastSentVia ?? route.lastInboundVia }
            .flatMap { relays.links[$0] }
        let likely = Self.likelyRelay(peerRelays: entry.peerRelays, ranked: relay?.ranked ?? [], relays: relays)
        let carrier = confirmed ? carrying ?? likely : likely ?? carrying
        let previous = status.peers[key.base64]
        var reason = entry.relayReason
        if !confirmed {
            let waiting = carrier == nil ? "no relay answers"
                : handshake.map { $0 >= since } == true ? "handshakes through the relay stopped" : "no handshake through the relay yet"
            reason = [waiting, entry.relayReason].compactMap { $0 }.joined(separator: "; ")
        }
        let path: TraversalStatus.Path = confirmed ? .relayed : .relayConnecting
        let relayKey = carrier?.target.key.base64
        guard previous?.path != path || previous?.relay != relayKey || previous?.reason != reason else { return }
        status.peers[key.base64] = .init(path: path, endpoint: carrier?.target.endpoint, natType: entry.inputs.peer,
                                         reason: reason, relay: relayKey)
        guard previous?.path != path || (confirmed && previous?.relay != relayKey) else { return }
        if confirmed {
            logger.info("\(network): \(label(key)): relayed through \(carrier.map { "\($0.target.endpoint)" } ?? "-")")
        } else {
            logger.info("\(network): \(label(key)): connecting through relay \(carrier.map { "\($0.target.endpoint)" } ?? "-") (\(reason ?? ""))")
        }
    }
}
