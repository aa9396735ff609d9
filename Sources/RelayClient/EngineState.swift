import Datagram
import Foundation
import Logging
import RelayWire
import WireGuard

/// Everything `RelayClientEngine` owns, touched only under its lock: the relay links, the
/// proxy routes, and the packet handling between them.
struct EngineState {
    enum Readiness {
        case wake
        case linkUDP(PublicKey)
        case linkTCP(PublicKey)
        case route(PublicKey)
    }

    final class Link {
        var target: RelayTarget
        var machine: RelayLinkMachine
        var proto: RelayClientProtocol
        var udp: Int32 = -1
        var tcp: Int32 = -1
        var tcpConnected = false
        var reader = StreamFrameReader()
        var writer = StreamFrameWriter(limit: EngineState.maxTCPBacklog)
        var info: InfoResponseFrame?
        /// Engine clock of the last data sent through the link.
        var lastDataSent = -Double.infinity

        init(target: RelayTarget, machine: RelayLinkMachine, proto: RelayClientProtocol) {
            self.target = target
            self.machine = machine
            self.proto = proto
        }
    }

    final class Route {
        let peer: PublicKey
        let socket: LoopbackProxySocket
        var preferences: [PublicKey]
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
        /// Packets WireGuard sent while no relay could carry them, and since when (`holdLimit`).
        var held: [[UInt8]] = []
        var heldSince: Double?

        init(peer: PublicKey, socket: LoopbackProxySocket, preferences: [PublicKey], automatic: Bool, created: Double,
             followsPeer: Bool) {
            self.peer = peer
            self.followsPeer = followsPeer
            self.socket = socket
            self.preferences = preferences
            self.automatic = automatic
            self.created = created
        }
    }

    /// A relay that said peer-unknown for a peer is skipped for it this long (unless the peer's
    /// packets arrive through it meanwhile): the peer is registering elsewhere or not at all.
    static let peerUnknownHold = 3.0
    /// Automatic routes (made by arriving packets) without traffic this long are closed.
    static let automaticIdle = 180.0
    /// A link that sent data this recently pings on the active cadence (`RelayLinkMachine.active`).
    static let activeWindow = 2.0
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
    /// A TCP link buffers at most this much unsent; beyond it packets are dropped, as a full
    /// UDP socket buffer would drop them.
    static let maxTCPBacklog = 4 << 20
    /// Datagrams per recvmmsg/sendmmsg.
    static let batchSize = 64

    let clientKey: PrivateKey
    /// Decides which end of a pair picks the pair's relay (`Route.followsPeer`).
    let publicKey: PublicKey
    var wireGuardPort: UInt16
    let logger: Logger
    var links: [PublicKey: Link] = [:]
    var routes: [PublicKey: Route] = [:]
    var discovered: [KnownRelay] = []
    /// Every channel endpoint granted to this engine (bounded): a packet WireGuard received from
    /// one came through a relay, even after the route that asked for it closed.
    var grantedChannels: Set<Endpoint> = []
    /// The channel endpoints last reported as current, to tell the agent when they change.
    var reportedChannels: [PublicKey: Endpoint] = [:]
    /// Descriptors closed only at the next poll-set build, so a descriptor number the loop is
    /// about to handle is never reused for another socket in between.
    var closing: [Int32] = []

    init(clientKey: PrivateKey, wireGuardPort: UInt16, logger: Logger) {
        self.clientKey = clientKey
        self.publicKey = clientKey.publicKey
        self.wireGuardPort = wireGuardPort
        self.logger = logger
    }

    // MARK: commands

    mutating func setRelays(_ targets: [RelayTarget], udpBlocked: Bool, now: Double) {
        let wanted = Dictionary(targets.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        for (key, link) in links where wanted[key] == nil || wanted[key]?.endpoint != link.target.endpoint {
            closeLink(link)
            links[key] = nil
        }
        for (key, target) in wanted where links[key] == nil {
            let machine = RelayLinkMachine(now: now, udpBlocked: udpBlocked)
            let link = Link(target: target, machine: machine, proto: RelayClientProtocol(clientKey: clientKey, relayKey: key))
            links[key] = link
            perform(machine.initialActions, on: link, now: now)
        }
    }

    mutating func route(_ peer: PublicKey, preferences: [PublicKey]) throws -> Endpoint {
        if let route = routes[peer] {
            route.preferences = preferences
            route.automatic = false
            return route.socket.endpoint
        }
        let socket = try LoopbackProxySocket(wireGuardPort: wireGuardPort)
        routes[peer] = Route(peer: peer, socket: socket, preferences: preferences, automatic: false,
                             created: RelayClock.monotonicSeconds(), followsPeer: Self.follows(publicKey, peer: peer))
        return socket.endpoint
    }

    mutating func unroute(_ peer: PublicKey) {
        guard let route = routes.removeValue(forKey: peer) else { return }
        closing.append(route.socket.descriptor)
    }

    mutating func setWireGuardPort(_ port: UInt16) {
        guard port != wireGuardPort else { return }
        wireGuardPort = port
        for route in routes.values {
            do { try route.socket.connect(toWireGuardPort: port) } catch { logger.warning("\(error)") }
        }
    }

    func status(now: Double) -> RelayEngineStatus {
        RelayEngineStatus(
            links: links.mapValues { link in
                .init(target: link.target, transport: link.machine.transport, phase: link.machine.phase,
                      usable: link.machine.isUsable(now: now), rttSamples: link.machine.rttSamples,
                      observedAddress: link.proto.observedAddress?.endpoint, info: link.info)
            },
            routes: routes.mapValues { route in
                .init(peer: route.peer, proxy: route.socket.endpoint, preferences: route.preferences, automatic: route.automatic,
                      lastInboundVia: route.lastInboundVia, lastSentVia: route.lastSentVia, packetsIn: route.packetsIn,
                      packetsOut: route.packetsOut, packetsDropped: route.packetsDropped, lastInbound: route.lastInbound,
                      channel: currentChannel(of: route, now: now), channelVia: route.channel?.relay)
            },
            discovered: discovered, grantedChannels: grantedChannels, now: now)
    }

    mutating func closeAll() {
        for link in links.values { closeLink(link) }
        for route in routes.values { close(route.socket.descriptor) }
        for fd in closing { close(fd) }
        links = [:]
        routes = [:]
        closing = []
    }

    // MARK: the loop

    mutating func pollSet(into polled: inout [pollfd], kinds: inout [Readiness]) {
        for fd in closing { close(fd) }
        closing.removeAll()
        for (key, link) in links {
            if link.udp >= 0 {
                polled.append(pollfd(fd: link.udp, events: Int16(POLLIN), revents: 0))
                kinds.append(.linkUDP(key))
            }
            if link.tcp >= 0 {
                let wantsWrite = !link.tcpConnected || !link.writer.pending.isEmpty
                polled.append(pollfd(fd: link.tcp, events: Int16(POLLIN) | (wantsWrite ? Int16(POLLOUT) : 0), revents: 0))
                kinds.append(.linkTCP(key))
            }
        }
        for (key, route) in routes {
            polled.append(pollfd(fd: route.socket.descriptor, events: Int16(POLLIN), revents: 0))
            kinds.append(.route(key))
        }
    }

    mutating func handle(_ kind: Readiness, fd: Int32, events: Int16, io: DatagramBatch, now: Double) {
        switch kind {
        case .wake:
            return
        case .route(let key):
            guard let route = routes[key], route.socket.descriptor == fd else { return }
            forwardFromWireGuard(route, io: io, now: now)
        case .linkUDP(let key):
            guard let link = links[key], link.udp == fd else { return }
            receiveUDP(link, io: io, now: now)
        case .linkTCP(let key):
            guard let link = links[key], link.tcp == fd else { return }
            serviceTCP(link, events: events, io: io, now: now)
        }
    }

    mutating func tick(now: Double) {
        for link in links.values {
            // WireGuard's packets on a channel bypass the engine, so a link carrying one counts as active.
            link.machine.active = now - link.lastDataSent < Self.activeWindow
                || routes.values.contains { $0.channel?.relay == link.target.key }
            perform(link.machine.tick(now: now), on: link, now: now)
        }
        for (key, route) in routes where route.automatic && now - (route.lastInbound ?? route.created) > Self.automaticIdle {
            unroute(key)
        }
        for route in routes.values where !route.automatic { requestChannelIfDue(route, now: now) }
        for route in routes.values where route.channelReleasing != nil { releaseChannelIfDue(route, now: now) }
        for route in routes.values where !route.held.isEmpty { sendHeld(route, now: now) }
    }

    // MARK: channels

    /// The endpoint WireGuard may send the route's packets to directly: the channel on the
    /// relay the engine would choose for them now, granted under its current registration.
    func currentChannel(of route: Route, now: Double) -> Endpoint? {
        guard let channel = route.channel, let link = chooseLink(for: route, now: now), link.target.key == channel.relay,
              link.machine.transport == .udp, link.proto.sessionID == channel.session else { return nil }
        return Endpoint(address: link.target.endpoint.address, port: channel.port)
    }

    /// Whether the current channels differ from those last reported (and records them).
    mutating func channelsChanged(now: Double) -> Bool {
        var current: [PublicKey: Endpoint] = [:]
        for (key, route) in routes { current[key] = currentChannel(of: route, now: now) }
        guard current != reportedChannels else { return false }
        reportedChannels = current
        return true
    }

    private mutating func requestChannelIfDue(_ route: Route, now: Double) {
        guard let link = chooseLink(for: route, now: now), link.machine.transport == .udp, link.proto.isRegistered else { return }
        let relay = link.target.key
        if let channel = route.channel, channel.relay == relay, channel.session == link.proto.sessionID,
           now - channel.granted < Self.channelRenew { return }
        if let refused = route.channelRefused[relay], now - refused < Self.channelRefusedHold { return }
        if let requested = route.channelRequested, requested.relay == relay, now - requested.at < Self.channelRetry { return }
        route.channelRequested = (relay, now)
        sendControl(link.proto.makeChannelRequest(to: route.peer, nowMillis: RelayClock.wallMillis()), on: link, transport: .udp)
    }

    /// Gives the route's channel up and tells its relay to close it and the peer's: while the
    /// channel is open the relay sends the peer's packets out of it, WireGuard roams its endpoint
    /// back to it, and what WireGuard sends there is lost if the channel does not work; and a
    /// firewall that drops this end's channel packets drops the peer's too.
    mutating func refuseChannel(of peer: PublicKey, now: Double) {
        guard let route = routes[peer], let channel = route.channel else { return }
        route.channelRefused[channel.relay] = now
        route.channel = nil
        route.channelRequested = nil
        route.channelReleasing = (channel.relay, now, 0)
        releaseChannelIfDue(route, now: now)
    }

    private func releaseChannelIfDue(_ route: Route, now: Double) {
        guard let releasing = route.channelReleasing else { return }
        guard releasing.tries < Self.channelReleaseTries, let link = links[releasing.relay], link.proto.isRegistered else {
            route.channelReleasing = nil
            return
        }
        guard releasing.tries == 0 || now - releasing.sent >= Self.channelRetry else { return }
        route.channelReleasing = (releasing.relay, now, releasing.tries + 1)
        sendControl(link.proto.makeChannelRelease(to: route.peer, nowMillis: RelayClock.wallMillis()), on: link, transport: link.machine.transport)
    }

    private mutating func channelGranted(_ peer: PublicKey, port: UInt16, by link: Link, now: Double) {
        guard let route = routes[peer] else { return }
        let relay = link.target.key
        route.channelRequested = nil
        guard port != 0 else {
            route.channelRefused[relay] = now
            if route.channel?.relay == relay { route.channel = nil }
            return
        }
        route.channelRefused[relay] = nil
        route.channel = (relay, port, link.proto.sessionID, now)
        if grantedChannels.count >= 1024 { grantedChannels.removeAll() }
        grantedChannels.insert(Endpoint(address: link.target.endpoint.address, port: port))
    }

    // MARK: WireGuard → relay

    private func chooseLink(for route: Route, now: Double) -> Link? {
        func candidate(_ key: PublicKey) -> Link? {
            guard let link = links[key], link.machine.isUsable(now: now) else { return nil }
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
        for key in route.preferences { if let link = candidate(key) { return link } }
        if let via = route.lastInboundVia, let link = candidate(via) { return link }
        return nil
    }

    /// Whether `own` answers `peer` through the relay the peer's packets arrive through.
    static func follows(_ own: PublicKey, peer: PublicKey) -> Bool {
        peer.bytes.lexicographicallyPrecedes(own.bytes)
    }

    private mutating func forwardFromWireGuard(_ route: Route, io: DatagramBatch, now: Double) {
        let header = DataFrameHeader.length
        let count = io.receive(on: route.socket.descriptor, offset: header, flags: Int32(MSG_DONTWAIT))
        guard count > 0 else { return }
        guard let link = chooseLink(for: route, now: now) else {
            for i in 0..<count {
                route.held.append(Array(UnsafeRawBufferPointer(start: io.slot(i) + header, count: io.length(i))))
            }
            if route.held.count > Self.holdLimit.packets {
                route.packetsDropped &+= UInt64(route.held.count - Self.holdLimit.packets)
                route.held.removeFirst(route.held.count - Self.holdLimit.packets)
            }
            route.heldSince = route.heldSince ?? now
            return
        }
        let wallMillis = RelayClock.wallMillis()
        for i in 0..<count {
            let frame = UnsafeMutableRawBufferPointer(start: io.slot(i), count: header + io.length(i))
            link.proto.writeHeader(into: frame, to: route.peer, nowMillis: wallMillis)
            if link.machine.transport == .udp {
                io.queue(frame.baseAddress!, length: frame.count, on: link.udp)
            } else {
                queueTCP(UnsafeRawBufferPointer(frame), on: link)
            }
        }
        route.packetsOut &+= UInt64(count)
        route.lastSentVia = link.target.key
        link.lastDataSent = now
        if link.machine.transport == .udp {
            // A full socket buffer or an unreachable port drops a packet; WireGuard recovers lost packets.
            io.flush(flags: Int32(MSG_DONTWAIT))
        } else {
            flushTCP(link)
        }
    }

    /// Sends what the route held once a relay can carry it; drops it after `holdLimit.seconds`.
    private func sendHeld(_ route: Route, now: Double) {
        guard let link = chooseLink(for: route, now: now) else {
            if let since = route.heldSince, now - since >= Self.holdLimit.seconds {
                route.packetsDropped &+= UInt64(route.held.count)
                route.held = []
                route.heldSince = nil
            }
            return
        }
        let header = DataFrameHeader.length
        let wallMillis = RelayClock.wallMillis()
        for packet in route.held {
            var frame = [UInt8](repeating: 0, count: header + packet.count)
            frame.replaceSubrange(header..., with: packet)
            frame.withUnsafeMutableBytes { link.proto.writeHeader(into: $0, to: route.peer, nowMillis: wallMillis) }
            sendControl(frame, on: link, transport: link.machine.transport)
        }
        route.packetsOut &+= UInt64(route.held.count)
        route.lastSentVia = link.target.key
        link.lastDataSent = now
        route.held = []
        route.heldSince = nil
    }

    // MARK: relay → WireGuard

    private mutating func receiveUDP(_ link: Link, io: DatagramBatch, now: Double) {
        let count = io.receive(on: link.udp, flags: Int32(MSG_DONTWAIT))
        let wallMillis = RelayClock.wallMillis()
        for i in 0..<count {
            let frame = UnsafeRawBufferPointer(start: io.slot(i), count: io.length(i))
            guard let (route, payload) = accept(frame, from: link, over: .udp, now: now, wallMillis: wallMillis) else { continue }
            io.queue(frame.baseAddress! + payload.lowerBound, length: payload.count, on: route.socket.descriptor)
        }
        io.flush(flags: Int32(MSG_DONTWAIT))
    }

    /// Handles one frame from a relay: a data frame yields the route and the payload's range for
    /// the caller to send; control frames are handled here.
    private mutating func accept(_ frame: UnsafeRawBufferPointer, from link: Link, over transport: RelayLinkMachine.Transport, now: Double,
                                 wallMillis: UInt64) -> (Route, Range<Int>)? {
        switch link.proto.receive(frame, nowMillis: wallMillis) {
        case .data(let source, _, let payload):
            guard let route = routes[source] ?? automaticRoute(for: source, via: link, now: now) else { return nil }
            route.lastInboundVia = link.target.key
            route.unknownVia[link.target.key] = nil
            route.lastInbound = now
            route.packetsIn &+= 1
            return (route, payload)
        case .registered(let payload):
            let actions = link.machine.registered(now: now, over: transport)
            logger.info("registered with relay \(link.target.key) at \(link.target.endpoint) over \(link.machine.transport.rawValue); it sees us at \(payload.observedAddress)")
            perform(actions, on: link, now: now)
            for route in routes.values where !route.held.isEmpty { sendHeld(route, now: now) }
        case .pong(let echo, let still):
            perform(link.machine.pong(echo: echo, stillRegistered: still, now: now), on: link, now: now)
        case .udpProbeAnswered:
            guard transport == .udp else { break }
            perform(link.machine.udpProbeAnswered(now: now), on: link, now: now)
        case .peerUnknown(let peer):
            routes[peer]?.unknownVia[link.target.key] = now
        case .error(let error):
            if error.code != .tooManyTunnels {
                logger.warning("relay \(link.target.key) at \(link.target.endpoint): \(error.code)")
            }
            perform(link.machine.error(error.code, now: now), on: link, now: now)
        case .info(let info):
            link.info = info
        case .channel(let peer, let port):
            channelGranted(peer, port: port, by: link, now: now)
        case .discovery(let answer):
            let known = Set(discovered.map(\.key))
            discovered += answer.relays.filter { !known.contains($0.key) }
            if discovered.count > 64 { discovered.removeFirst(discovered.count - 64) }
        case .ignored:
            break
        }
        return nil
    }

    private mutating func automaticRoute(for peer: PublicKey, via link: Link, now: Double) -> Route? {
        guard routes.values.filter(\.automatic).count < Self.maxAutomaticRoutes else { return nil }
        do {
            let socket = try LoopbackProxySocket(wireGuardPort: wireGuardPort)
            let route = Route(peer: peer, socket: socket, preferences: [], automatic: true, created: now,
                              followsPeer: Self.follows(publicKey, peer: peer))
            routes[peer] = route
            logger.info("relayed packets from \(peer) through \(link.target.key): proxy at \(socket.endpoint)")
            return route
        } catch {
            logger.warning("\(error)")
            return nil
        }
    }

    // MARK: TCP

    private mutating func serviceTCP(_ link: Link, events: Int16, io: DatagramBatch, now: Double) {
        if !link.tcpConnected, events & Int16(POLLOUT | POLLERR | POLLHUP) != 0 {
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(link.tcp, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0 else { return tcpFailed(link, now: now) }
            link.tcpConnected = true
        }
        if events & Int16(POLLIN) != 0 {
            let n = read(link.tcp, io.storage, io.capacity * io.slotSize)
            if n <= 0 {
                if n == 0 || (errno != EAGAIN && errno != EINTR) { return tcpFailed(link, now: now) }
            } else {
                link.reader.append(UnsafeRawBufferPointer(start: io.storage, count: n))
                let wallMillis = RelayClock.wallMillis()
                do {
                    // Frames are taken out of the reader before any is handled: handling one may
                    // replace the connection, and with it the reader (a relay restart answered
                    // by re-registering), which must not happen while the reader is being read.
                    var frames: [[UInt8]] = []
                    try link.reader.drain { frames.append(Array($0)) }
                    let connection = link.tcp
                    var deliveries: [(Int32, [UInt8])] = []
                    for frame in frames where link.tcp == connection {
                        frame.withUnsafeBytes { frame in
                            if let (route, payload) = accept(frame, from: link, over: .tcp, now: now, wallMillis: wallMillis) {
                                deliveries.append((route.socket.descriptor, Array(UnsafeRawBufferPointer(rebasing: frame[payload]))))
                            }
                        }
                    }
                    for (fd, packet) in deliveries {
                        packet.withUnsafeBytes { _ = Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    }
                } catch {
                    logger.warning("relay \(link.target.key) over TCP: \(error)")
                    return tcpFailed(link, now: now)
                }
            }
        } else if events & Int16(POLLERR | POLLHUP) != 0 {
            return tcpFailed(link, now: now)
        }
        if link.tcpConnected { flushTCP(link) }
    }

    private mutating func tcpFailed(_ link: Link, now: Double) {
        closeTCP(link)
        perform(link.machine.transportFailed(now: now), on: link, now: now)
    }

    private func queueTCP(_ frame: UnsafeRawBufferPointer, on link: Link) {
        link.writer.append(frame)
    }

    private func flushTCP(_ link: Link) {
        guard link.tcpConnected, link.tcp >= 0, !link.writer.pending.isEmpty else { return }
        let written = link.writer.pending.withUnsafeBytes { Glibc.send(link.tcp, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
        if written > 0 { link.writer.removeSent(written) }
    }

    private func closeTCP(_ link: Link) {
        if link.tcp >= 0 { close(link.tcp) }
        link.tcp = -1
        link.tcpConnected = false
        link.writer.removeAll()
        link.reader = StreamFrameReader()
    }

    // MARK: link actions

    private mutating func perform(_ actions: [RelayLinkMachine.Action], on link: Link, now: Double) {
        for action in actions {
            switch action {
            case .connectTCP:
                closeTCP(link)
                openTCP(link)
            case .closeTCP:
                closeTCP(link)
            case .register(let transport):
                let frame = link.proto.makeRegister(nowMillis: RelayClock.wallMillis())
                sendControl(frame, on: link, transport: transport)
            case .ping(let echo):
                sendControl(link.proto.makePing(echo: echo), on: link, transport: link.machine.transport)
            case .probeUDP(let echo):
                sendControl(EchoFrame.ping(sessionID: 0, echo: echo).encode(), on: link, transport: .udp)
            case .infoRequest:
                sendControl(PaddedRequestFrame.infoRequest(echo: UInt64(now * 1000)).encode(), on: link, transport: link.machine.transport)
            case .discoveryQuery:
                sendControl(PaddedRequestFrame.discoveryQuery(echo: UInt64(now * 1000)).encode(), on: link, transport: link.machine.transport)
            }
        }
    }

    /// Sends one whole frame (control frames, and data frames held before the link could carry them).
    private func sendControl(_ frame: [UInt8], on link: Link, transport: RelayLinkMachine.Transport) {
        switch transport {
        case .udp:
            if link.udp < 0 { openUDP(link) }
            guard link.udp >= 0 else { return }
            _ = frame.withUnsafeBytes { Glibc.send(link.udp, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        case .tcp:
            if link.tcp < 0 { openTCP(link) }
            frame.withUnsafeBytes { queueTCP($0, on: link) }
            flushTCP(link)
        }
    }

    private func openUDP(_ link: Link) {
        let family = link.target.endpoint.address.family
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return logger.warning("relay UDP socket: \(String(cString: strerror(errno)))") }
        SocketCalls.setBufferSizes(fd, bytes: LoopbackProxySocket.bufferBytes)
        let rc = SocketCalls.connect(fd, family: family, to: DatagramAddress(link.target.endpoint))
        guard rc == 0 else {
            logger.warning("relay \(link.target.endpoint): \(String(cString: strerror(errno)))")
            close(fd)
            return
        }
        link.udp = fd
    }

    private func openTCP(_ link: Link) {
        let family = link.target.endpoint.address.family
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return logger.warning("relay TCP socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = SocketCalls.connect(fd, family: family, to: DatagramAddress(link.target.endpoint))
        guard rc == 0 || errno == EINPROGRESS else {
            logger.debug("relay \(link.target.endpoint) over TCP: \(String(cString: strerror(errno)))")
            close(fd)
            return
        }
        link.tcp = fd
        link.tcpConnected = rc == 0
    }

    private func closeLink(_ link: Link) {
        if link.udp >= 0 { close(link.udp) }
        link.udp = -1
        closeTCP(link)
    }
}
