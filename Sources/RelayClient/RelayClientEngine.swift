import Datagram
import Foundation
import Logging
import RelayWire
import Synchronization
import WireGuard

/// A relay the engine keeps a registration with.
public struct RelayTarget: Sendable, Equatable, Hashable {
    public var key: PublicKey
    public var endpoint: Endpoint
    public init(key: PublicKey, endpoint: Endpoint) {
        self.key = key
        self.endpoint = endpoint
    }
}

/// What the engine knows, copied out for the agent's policy and for `formnet show`.
public struct RelayEngineStatus: Sendable {
    public struct Link: Sendable {
        public var target: RelayTarget
        /// Registered for a route whose peer holds none of this member's relays (`OnDemandRelays`),
        /// not one of the standing registrations.
        public var onDemand: Bool = false
        /// The peers whose routes keep an on-demand registration open (none for a standing one).
        public var neededBy: [PublicKey] = []
        public var transport: RelayLinkMachine.Transport
        public var phase: RelayLinkMachine.Phase
        public var usable: Bool
        /// Seconds, most recent last.
        public var rttSamples: [Double]
        /// This host's address as the relay sees it (a server-reflexive candidate).
        public var observedAddress: Endpoint?
        public var info: InfoResponseFrame?
    }

    public struct Route: Sendable {
        public var peer: PublicKey
        /// The loopback endpoint WireGuard must use for the peer.
        public var proxy: Endpoint
        public var preferences: [PublicKey]
        /// Made for a peer whose packets arrived through a relay without the agent asking.
        public var automatic: Bool
        public var lastInboundVia: PublicKey?
        public var lastSentVia: PublicKey?
        public var packetsIn: UInt64
        public var packetsOut: UInt64
        /// Packets WireGuard sent while no relay could take them.
        public var packetsDropped: UInt64
        /// Monotonic seconds of the last packet from the peer, if any.
        public var lastInbound: Double?
        /// Where WireGuard may send the peer's packets instead of the proxy: a relay's channel
        /// port, on the relay that carries the route now. Nil until one is granted.
        public var channel: Endpoint?
        /// The relay that granted the route's channel.
        public var channelVia: PublicKey?
    }

    public var links: [PublicKey: Link]
    public var routes: [PublicKey: Route]
    /// Relays listed by relays' discovery answers.
    public var discovered: [KnownRelay]
    /// Channel endpoints relays granted this engine: packets from them came through a relay.
    public var grantedChannels: Set<Endpoint>
    /// The engine's clock (monotonic seconds) when this was taken.
    public var now: Double
}

/// The agent's side of relaying: keeps registrations with a set of relays (UDP, TCP when UDP
/// gets no answer) and one loopback proxy socket per relayed peer, and moves WireGuard packets
/// between them on one thread with recvmmsg/sendmmsg and preallocated buffers.
///
/// Which relay carries a peer's packets: the first of the route's preferences (the peer's
/// reported relays, then this host's own) that is usable and has not just answered
/// peer-unknown for it; failing those, the relay the peer's packets last came through. The
/// choice is made per batch, so a relay that stops answering is left within the link machine's
/// `deadAfter`, without waiting for the agent.
///
/// A packet that arrives through a relay from a peer without a route gets an automatic route
/// (the receiving side of a relayed pair need not decide anything: WireGuard roams its endpoint
/// to the proxy as soon as the first authenticated packet arrives from it).
public final class RelayClientEngine: Sendable {
    /// Where every proxy listens: no peer's real endpoint is on the host's loopback.
    public static let proxyAddress = IPAddress.v4(0x7F00_0001)

    /// Whether a WireGuard endpoint is one of the proxies (of an agent's or the server's engine).
    public static func isProxy(_ endpoint: Endpoint) -> Bool { endpoint.address == proxyAddress }

    private let shared: Mutex<EngineState>
    /// A pipe that wakes the loop's poll when a command changed the sockets to watch.
    private let wake: (read: Int32, write: Int32)
    private let stopping = Atomic<Bool>(false)
    private let logger: Logger
    private let channelObserver = Mutex<(@Sendable () -> Void)?>(nil)

    public init(clientKey: PrivateKey, wireGuardPort: UInt16, logger: Logger) throws {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw WireGuardError.system(operation: "pipe", errno: errno) }
        for end in ends {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        wake = (ends[0], ends[1])
        self.logger = logger
        shared = Mutex(EngineState(clientKey: clientKey, wireGuardPort: wireGuardPort, logger: logger))
        let thread = Thread { [self] in run() }
        thread.name = "formnet-relay-client"
        thread.start()
    }

    /// The relays to keep registrations with; links to others are closed unless a route needs
    /// them on demand, new ones start registering. `known` (the standing ones and others) are
    /// where an on-demand registration may go.
    public func setRelays(_ targets: [RelayTarget], udpBlocked: Bool, known: [RelayTarget] = []) {
        shared.withLock { $0.setRelays(targets, udpBlocked: udpBlocked, known: known, now: RelayClock.monotonicSeconds()) }
        poke()
    }

    /// Routes `peer` through the relays in `preferences` (first usable wins) and returns the
    /// loopback endpoint to give WireGuard for it. `peerRelays`, the relays the peer reported, are
    /// where the engine registers on demand when this member holds none of them.
    public func route(_ peer: PublicKey, preferring preferences: [PublicKey], peerRelays: [PublicKey] = []) throws -> Endpoint {
        let endpoint = try shared.withLock { try $0.route(peer, preferences: preferences, peerRelays: peerRelays) }
        poke()
        return endpoint
    }

    public func unroute(_ peer: PublicKey) {
        shared.withLock { $0.unroute(peer) }
        poke()
    }

    /// Stops using the peer's channel, releases it at its relay, and asks that relay for none for
    /// a while (`RouteTable.channelRefusedHold`): the agent saw it carry nothing back.
    public func refuseChannel(of peer: PublicKey) {
        shared.withLock { $0.refuseChannel(of: peer, now: RelayClock.monotonicSeconds()) }
        poke()
    }

    /// The peer's packets arrive through `channel`, a relay's channel port that is not the
    /// route's current one (WireGuard roamed there): they bypass the engine, so the route does not
    /// see them. The end of a pair that follows its peer's relay (`RouteTable.chooseLink`) follows
    /// that relay now; without it, it kept answering through the relay the last packet through
    /// the engine came from, while the relay of an older channel delivered the peer's packets
    /// straight to WireGuard for the minute that channel stayed fresh, and the agent put
    /// WireGuard back on the other channel at every packet (the relayed lab, after a failover).
    public func noteChannelInbound(of peer: PublicKey, through channel: Endpoint) {
        shared.withLock { $0.noteChannelInbound(of: peer, through: channel, now: RelayClock.monotonicSeconds()) }
        poke()
    }

    /// Called (on the engine's thread) when a route's channel appears, changes or stops being
    /// usable, so that the agent moves WireGuard's endpoint without waiting for its next pass.
    public func observeChannels(_ observer: @escaping @Sendable () -> Void) {
        channelObserver.withLock { $0 = observer }
    }

    /// Where this member's WireGuard sends from as others see it (nil: not known): relays that
    /// see this member elsewhere are asked for no channels.
    public func setOwnAddresses(_ addresses: OwnAddresses?) {
        shared.withLock { $0.ownAddresses = addresses }
    }

    public func setWireGuardPort(_ port: UInt16) {
        shared.withLock { $0.setWireGuardPort(port) }
    }

    public func status() -> RelayEngineStatus {
        shared.withLock { $0.status(now: RelayClock.monotonicSeconds()) }
    }

    public func stop() {
        stopping.store(true, ordering: .relaxed)
        poke()
    }

    private func poke() {
        var one: UInt8 = 1
        _ = write(wake.write, &one, 1)
    }

    /// The loop's poll timeout in milliseconds: 100 (the pace of its timers), or less when a
    /// registration is due sooner.
    static func pollTimeout(until deadline: Double?, now: Double) -> Int32 {
        guard let deadline else { return 100 }
        return Int32(max(0, min(100, ((deadline - now) * 1000).rounded(.up))))
    }

    private func run() {
        guard let io = DatagramBatch(capacity: EngineState.batchSize, slotSize: RelayWire.maxFrame) else {
            logger.critical("recvmmsg/sendmmsg not found in the C library: relaying is off")
            return
        }
        var polled: [pollfd] = []
        var kinds: [EngineState.Readiness] = []
        while !stopping.load(ordering: .relaxed) {
            polled.removeAll(keepingCapacity: true)
            kinds.removeAll(keepingCapacity: true)
            polled.append(pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0))
            kinds.append(.wake)
            let deadline = shared.withLock { state in
                state.pollSet(into: &polled, kinds: &kinds)
                return state.registeringDeadline
            }
            let ready = poll(&polled, nfds_t(polled.count), Self.pollTimeout(until: deadline, now: RelayClock.monotonicSeconds()))
            if ready < 0, errno != EINTR {
                logger.error("relay client poll: \(String(cString: strerror(errno)))")
                return
            }
            var drained = [UInt8](repeating: 0, count: 64)
            if polled[0].revents != 0 { _ = read(wake.read, &drained, drained.count) }
            let channelsChanged = shared.withLock { state in
                let now = RelayClock.monotonicSeconds()
                for index in 1..<polled.count where polled[index].revents != 0 {
                    state.handle(kinds[index], fd: polled[index].fd, events: polled[index].revents, io: io, now: now)
                }
                state.tick(now: now)
                return state.channelsChanged(now: now)
            }
            if channelsChanged, let observer = channelObserver.withLock({ $0 }) { observer() }
        }
        shared.withLock { $0.closeAll() }
        close(wake.read)
        close(wake.write)
    }
}
