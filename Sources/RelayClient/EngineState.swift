import Datagram
import Foundation
import Logging
import RelayWire
import WireGuard

/// Everything `RelayClientEngine` owns, touched only under its lock: the relay links, the
/// proxy sockets of the routes, and the packets moved between them. What to do with a route is
/// the route table's decision; this is where it is done with system calls.
struct EngineState {
    enum Readiness {
        case wake
        case linkUDP(PublicKey)
        case linkTCP(PublicKey)
        case route(PublicKey)
    }

    /// A link that sent data this recently pings on the active cadence (`RelayLinkMachine.active`).
    static let activeWindow = 2.0
    /// Datagrams per recvmmsg/sendmmsg.
    static let batchSize = 64
    /// Relays kept from discovery answers, at most.
    static let maxDiscovered = 64

    let clientKey: PrivateKey
    var wireGuardPort: UInt16
    let logger: Logger
    var links: [PublicKey: RelayLink] = [:]
    /// The relays this member keeps registrations with; the other links are on demand.
    var standing: Set<PublicKey> = []
    /// Every relay the member knows: where an on-demand registration may go.
    var known: [PublicKey: RelayTarget] = [:]
    var udpBlocked = false
    var onDemand = OnDemandRelays()
    var table: RouteTable
    /// Where this member's WireGuard sends from as others see it (nil: not known).
    var ownAddresses: OwnAddresses?
    var discovered: [KnownRelay] = []
    /// Descriptors closed only at the next poll-set build, so a descriptor number the loop is
    /// about to handle is never reused for another socket in between.
    var closing: [Int32] = []

    init(clientKey: PrivateKey, wireGuardPort: UInt16, logger: Logger) {
        self.clientKey = clientKey
        self.wireGuardPort = wireGuardPort
        self.logger = logger
        table = RouteTable(publicKey: clientKey.publicKey)
    }

    // MARK: commands

    /// Standing registrations with `targets`; `known` are the relays on-demand ones may go to.
    /// A link that stops being standing while a route goes through it stays, on demand, as long
    /// as a route wants it; one that becomes standing leaves the on-demand set at the next tick
    /// (`OnDemandRelays.update`).
    mutating func setRelays(_ targets: [RelayTarget], udpBlocked: Bool, known: [RelayTarget], now: Double) {
        let wanted = Dictionary(targets.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        self.known = Dictionary(known.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        for target in targets { self.known[target.key] = target }
        self.udpBlocked = udpBlocked
        let leaving = standing.subtracting(wanted.keys)
        standing = Set(wanted.keys)
        for key in leaving where links[key] != nil && links[key]?.target.endpoint == self.known[key]?.endpoint
            && table.routes.values.contains(where: { $0.lastInboundVia == key || $0.lastSentVia == key }) {
            _ = onDemand.adopt(key, now: now)
        }
        for (key, link) in links {
            let endpoint = wanted[key]?.endpoint ?? (onDemand.contains(key) ? self.known[key]?.endpoint : nil)
            guard endpoint != link.target.endpoint else { continue }
            closeLink(key)
        }
        for (key, target) in wanted where links[key] == nil { openLink(target, now: now) }
    }

    private mutating func openLink(_ target: RelayTarget, now: Double) {
        let machine = RelayLinkMachine(now: now, udpBlocked: udpBlocked)
        let link = RelayLink(target: target, machine: machine, proto: RelayClientProtocol(clientKey: clientKey, relayKey: target.key),
                             logger: logger)
        links[target.key] = link
        perform(machine.initialActions, on: link, now: now)
    }

    private mutating func closeLink(_ key: PublicKey) {
        links.removeValue(forKey: key)?.close()
        onDemand.forget(key)
    }

    /// Opens the on-demand registrations the routes need and closes those unused (`OnDemandRelays`).
    private mutating func updateOnDemand(now: Double) {
        let before = onDemand.unserved
        let debugging = logger.logLevel <= .debug
        let wantedBefore = debugging ? onDemand.wantedBy : [:]
        let (open, close) = onDemand.update(routes: table.routes.values, links: links, standing: standing,
                                            known: known.keys, now: now)
        if debugging {
            for (relay, peers) in onDemand.wantedBy {
                for peer in peers where wantedBefore[relay]?.contains(peer) != true {
                    logger.debug("\(peer): its route keeps the on-demand registration with relay \(relay)")
                }
            }
        }
        if !onDemand.unserved.isEmpty, onDemand.unserved != before {
            logger.warning("relayed peers registered only with \(onDemand.unserved.map(\.description).joined(separator: ", ")) stay unreachable: already \(OnDemandRelays.maxLinks) on-demand registrations, all in use")
        }
        for key in close {
            logger.info("on-demand registration with relay \(key) closed: no route needs it")
            closeLink(key)
        }
        for key in open where links[key] == nil {
            guard let target = known[key] else { continue }
            logger.info("registering on demand with relay \(key) at \(target.endpoint): a relayed peer is registered there")
            openLink(target, now: now)
        }
    }

    mutating func route(_ peer: PublicKey, preferences: [PublicKey], peerRelays: [PublicKey]) throws -> Endpoint {
        if let route = table[peer] {
            route.preferences = preferences
            route.peerRelays = peerRelays
            route.automatic = false
            return route.proxy
        }
        let socket = try LoopbackProxySocket(wireGuardPort: wireGuardPort)
        table.add(peer, descriptor: socket.descriptor, proxy: socket.endpoint, preferences: preferences, peerRelays: peerRelays,
                  automatic: false, now: RelayClock.monotonicSeconds())
        return socket.endpoint
    }

    mutating func unroute(_ peer: PublicKey) {
        guard let route = table.remove(peer) else { return }
        closing.append(route.descriptor)
    }

    mutating func setWireGuardPort(_ port: UInt16) {
        guard port != wireGuardPort else { return }
        wireGuardPort = port
        for route in table.routes.values {
            do { try LoopbackProxySocket.connect(route.descriptor, toWireGuardPort: port) } catch { logger.warning("\(error)") }
        }
    }

    func status(now: Double) -> RelayEngineStatus {
        RelayEngineStatus(
            links: links.mapValues { link in
                .init(target: link.target, onDemand: !standing.contains(link.target.key),
                      neededBy: onDemand.wantedBy[link.target.key] ?? [], transport: link.machine.transport,
                      phase: link.machine.phase,
                      usable: link.machine.isUsable(now: now), rttSamples: link.machine.rttSamples,
                      observedAddress: link.proto.observedAddress?.endpoint, info: link.info)
            },
            routes: table.routes.mapValues { route in
                .init(peer: route.peer, proxy: route.proxy, preferences: route.preferences, automatic: route.automatic,
                      lastInboundVia: route.lastInboundVia, lastSentVia: route.lastSentVia, packetsIn: route.packetsIn,
                      packetsOut: route.packetsOut, packetsDropped: route.packetsDropped, lastInbound: route.lastInbound,
                      channel: table.currentChannel(of: route, links: links, now: now), channelVia: route.channel?.relay)
            },
            discovered: discovered, grantedChannels: table.grantedChannels, now: now)
    }

    mutating func closeAll() {
        for link in links.values { link.close() }
        for route in table.routes.values { close(route.descriptor) }
        for fd in closing { close(fd) }
        links = [:]
        table.removeAll()
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
                polled.append(pollfd(fd: link.tcp, events: link.tcpPollEvents, revents: 0))
                kinds.append(.linkTCP(key))
            }
        }
        for (key, route) in table.routes {
            polled.append(pollfd(fd: route.descriptor, events: Int16(POLLIN), revents: 0))
            kinds.append(.route(key))
        }
    }

    mutating func handle(_ kind: Readiness, fd: Int32, events: Int16, io: DatagramBatch, now: Double) {
        switch kind {
        case .wake:
            return
        case .route(let key):
            guard let route = table[key], route.descriptor == fd else { return }
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
                || table.routes.values.contains { $0.channel?.relay == link.target.key }
            perform(link.machine.tick(now: now), on: link, now: now)
        }
        for key in table.idleAutomaticRoutes(now: now) { unroute(key) }
        updateOnDemand(now: now)
        for route in table.routes.values {
            if let link = table.channelRequestDue(for: route, links: links, ownAddresses: ownAddresses, now: now) {
                link.send(link.proto.makeChannelRequest(to: route.peer, nowMillis: RelayClock.wallMillis()), over: .udp)
            }
        }
        for route in table.routes.values where route.channelReleasing != nil { releaseChannelIfDue(route, now: now) }
        for (peer, link) in table.channelClosesDue(links: links, now: now) {
            logger.debug("\(peer): its route closed; closing its channel at relay \(link.target.key)")
            link.send(link.proto.makeChannelClose(to: peer, nowMillis: RelayClock.wallMillis()), over: link.machine.transport)
        }
        for route in table.routes.values where !route.held.isEmpty { sendHeld(route, now: now) }
        for route in table.routes.values where route.crossedInitiation != nil {
            guard let packet = table.crossedInitiationDue(route, now: now) else { continue }
            logger.debug("\(route.peer): ours went unanswered; handing WireGuard the peer's initiation that crossed it")
            packet.withUnsafeBytes { _ = Glibc.send(route.descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        }
    }

    /// The earliest moment a link's registration has something to send.
    var registeringDeadline: Double? {
        links.values.compactMap { $0.machine.registeringDeadline }.min()
    }

    /// Whether the current channels differ from those last reported (and records them).
    mutating func channelsChanged(now: Double) -> Bool {
        table.channelsChanged(links: links, now: now)
    }

    // MARK: channels

    /// Gives the route's channel up and tells its relay to close it and the peer's: while the
    /// channel is open the relay sends the peer's packets out of it, WireGuard roams its endpoint
    /// back to it, and what WireGuard sends there is lost if the channel does not work; and a
    /// firewall that drops this end's channel packets drops the peer's too.
    mutating func refuseChannel(of peer: PublicKey, now: Double) {
        guard table.refuseChannel(of: peer, now: now), let route = table[peer] else { return }
        releaseChannelIfDue(route, now: now)
    }

    mutating func noteChannelInbound(of peer: PublicKey, through channel: Endpoint, now: Double) {
        guard let route = table[peer], route.followsPeer, table.grantedChannels.contains(channel),
              let link = links.values.first(where: { $0.relayAddress == channel.address && $0.isUsable(now: now) }) else { return }
        table.follow(route, via: link.target.key)
    }

    private func releaseChannelIfDue(_ route: Route, now: Double) {
        guard let link = table.channelReleaseDue(for: route, links: links, now: now) else { return }
        link.send(link.proto.makeChannelRelease(to: route.peer, nowMillis: RelayClock.wallMillis()), over: link.machine.transport)
    }

    // MARK: WireGuard → relay

    private mutating func forwardFromWireGuard(_ route: Route, io: DatagramBatch, now: Double) {
        let header = DataFrameHeader.length
        let count = io.receive(on: route.descriptor, offset: header, flags: Int32(MSG_DONTWAIT))
        guard count > 0 else { return }
        guard let link = table.chooseLink(for: route, links: links, now: now) else {
            logger.debug("\(route.peer): no relay can carry its packets now; holding \(count)")
            for i in 0..<count {
                table.hold(Array(UnsafeRawBufferPointer(start: io.slot(i) + header, count: io.length(i))), on: route, now: now)
            }
            return
        }
        let wallMillis = RelayClock.wallMillis()
        for i in 0..<count {
            let frame = UnsafeMutableRawBufferPointer(start: io.slot(i), count: header + io.length(i))
            let packet = UnsafeRawBufferPointer(rebasing: frame[header...])
            table.recordHandshake(packet, on: route, via: link.target.key, now: now)
            logHandshake(packet, of: route.peer, "sent through", link)
            link.proto.writeHeader(into: frame, to: route.peer, nowMillis: wallMillis)
            if link.machine.transport == .udp {
                io.queue(frame.baseAddress!, length: frame.count, on: link.udp)
            } else {
                link.queueTCP(UnsafeRawBufferPointer(frame))
            }
        }
        table.recordSent(route, count: count, via: link.target.key)
        link.lastDataSent = now
        if link.machine.transport == .udp {
            // A full socket buffer or an unreachable port drops a packet; WireGuard recovers lost packets.
            io.flush(flags: Int32(MSG_DONTWAIT))
        } else {
            link.flushTCP()
        }
    }

    /// Sends what the route held once a relay can carry it; drops it after `holdLimit.seconds`.
    private func sendHeld(_ route: Route, now: Double) {
        guard let link = table.chooseLink(for: route, links: links, now: now) else {
            return table.dropExpiredHeld(from: route, now: now)
        }
        let header = DataFrameHeader.length
        let wallMillis = RelayClock.wallMillis()
        for packet in table.takeHeld(from: route, via: link.target.key) {
            packet.withUnsafeBytes { packet in
                table.recordHandshake(packet, on: route, via: link.target.key, now: now)
                logHandshake(packet, of: route.peer, "held, sent through", link)
            }
            var frame = [UInt8](repeating: 0, count: header + packet.count)
            frame.replaceSubrange(header..., with: packet)
            frame.withUnsafeMutableBytes { link.proto.writeHeader(into: $0, to: route.peer, nowMillis: wallMillis) }
            link.send(frame, over: link.machine.transport)
        }
        link.lastDataSent = now
    }

    /// At debug level: where each handshake message of a relayed peer went or came from, the
    /// first thing to read when a relayed pair does not connect.
    private func logHandshake(_ packet: UnsafeRawBufferPointer, of peer: PublicKey, _ what: String, _ link: RelayLink) {
        guard logger.logLevel <= .debug, WireGuardMessageShape.isHandshake(packet) else { return }
        logger.debug("\(peer): handshake \(packet[0] == 1 ? "initiation" : "response") \(what) relay \(link.target.endpoint) over \(link.machine.transport.rawValue)")
    }

    // MARK: relay → WireGuard

    private mutating func receiveUDP(_ link: RelayLink, io: DatagramBatch, now: Double) {
        let count = io.receive(on: link.udp, flags: Int32(MSG_DONTWAIT))
        let wallMillis = RelayClock.wallMillis()
        for i in 0..<count {
            let frame = UnsafeRawBufferPointer(start: io.slot(i), count: io.length(i))
            guard let (route, payload) = accept(frame, from: link, over: .udp, now: now, wallMillis: wallMillis) else { continue }
            io.queue(frame.baseAddress! + payload.lowerBound, length: payload.count, on: route.descriptor)
        }
        io.flush(flags: Int32(MSG_DONTWAIT))
    }

    private mutating func serviceTCP(_ link: RelayLink, events: Int16, io: DatagramBatch, now: Double) {
        let scratch = UnsafeMutableRawBufferPointer(start: io.storage, count: io.capacity * io.slotSize)
        let connecting = !link.tcpConnected
        let event = link.serviceTCP(events: events, scratch: scratch)
        if connecting, link.tcpConnected { link.machine.tcpConnected(now: now) }
        switch event {
        case .nothing:
            return
        case .failed:
            perform(link.machine.transportFailed(now: now), on: link, now: now)
        case .frames(let frames):
            let wallMillis = RelayClock.wallMillis()
            let connection = link.tcp
            var deliveries: [(Int32, [UInt8])] = []
            for frame in frames where link.tcp == connection {
                frame.withUnsafeBytes { frame in
                    if let (route, payload) = accept(frame, from: link, over: .tcp, now: now, wallMillis: wallMillis) {
                        deliveries.append((route.descriptor, Array(UnsafeRawBufferPointer(rebasing: frame[payload]))))
                    }
                }
            }
            for (fd, packet) in deliveries {
                packet.withUnsafeBytes { _ = Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            }
        }
    }

    /// Handles one frame from a relay: a data frame yields the route and the payload's range for
    /// the caller to send; control frames are handled here.
    private mutating func accept(_ frame: UnsafeRawBufferPointer, from link: RelayLink, over transport: RelayLinkMachine.Transport, now: Double,
                                 wallMillis: UInt64) -> (Route, Range<Int>)? {
        switch link.proto.receive(frame, nowMillis: wallMillis) {
        case .data(let source, _, let payload):
            guard let route = table[source] ?? automaticRoute(for: source, via: link, now: now) else { return nil }
            table.recordInbound(route, via: link.target.key, now: now)
            let packet = UnsafeRawBufferPointer(rebasing: frame[payload])
            if !table.admitInbound(packet, on: route, now: now) {
                route.packetsDropped &+= 1
                logger.debug("\(source): its handshake initiation crossed ours through relay \(link.target.endpoint); dropped, so that it answers ours")
                return nil
            }
            logHandshake(packet, of: source, "arrived through", link)
            return (route, payload)
        case .registered(let payload):
            // Over TCP the frame waited for the connection: its round trip counts the connect too.
            if transport == .udp { link.machine.answered(roundTrip: link.proto.answerRoundTrip) }
            let actions = link.machine.registered(now: now, over: transport)
            logger.info("registered with relay \(link.target.key) at \(link.target.endpoint) over \(link.machine.transport.rawValue); it sees us at \(payload.observedAddress)")
            perform(actions, on: link, now: now)
            for route in table.routes.values where !route.held.isEmpty { sendHeld(route, now: now) }
        case .pong(let echo, let still):
            let actions = link.machine.pong(echo: echo, stillRegistered: still, now: now)
            if !still, case .registering = link.machine.phase { link.proto.forgetSession() }
            perform(actions, on: link, now: now)
        case .udpProbeAnswered:
            guard transport == .udp else { break }
            perform(link.machine.udpProbeAnswered(now: now), on: link, now: now)
        case .peerUnknown(let peer):
            // The handshake that went there is not lost: it goes out through the next relay, or
            // as soon as one can carry it.
            logger.debug("\(peer): relay \(link.target.endpoint) says it is not registered there")
            if let packet = table.peerUnknown(peer, via: link.target.key, now: now), let route = table[peer] {
                table.hold(packet, on: route, now: now)
                sendHeld(route, now: now)
            }
        case .error(let error):
            if error.code != .tooManyTunnels {
                logger.warning("relay \(link.target.key) at \(link.target.endpoint): \(error.code)")
            } else if link.warnedTooManyTunnels != link.sessionID {
                // Its limit on peers one member talks to at once (start-relay --max-tunnels-per-device);
                // a peer past it is dropped there until one of the others is idle a minute.
                link.warnedTooManyTunnels = link.sessionID
                logger.warning("relay \(link.target.key) at \(link.target.endpoint) carries this member to no more peers at once (its --max-tunnels-per-device)")
            }
            perform(link.machine.error(error.code, now: now), on: link, now: now)
        case .cookie:
            if transport == .udp { link.machine.answered(roundTrip: link.proto.answerRoundTrip) }
            perform(link.machine.cookie(now: now, over: transport), on: link, now: now)
        case .info(let info):
            link.info = info
        case .channel(let peer, let port):
            table.channelGranted(peer, port: port, by: link, now: now)
        case .discovery(let answer):
            let known = Set(discovered.map(\.key))
            discovered += answer.relays.filter { !known.contains($0.key) }
            if discovered.count > Self.maxDiscovered { discovered.removeFirst(discovered.count - Self.maxDiscovered) }
        case .ignored:
            break
        }
        return nil
    }

    private mutating func automaticRoute(for peer: PublicKey, via link: RelayLink, now: Double) -> Route? {
        guard table.acceptsAutomaticRoute else { return nil }
        do {
            let socket = try LoopbackProxySocket(wireGuardPort: wireGuardPort)
            let route = table.add(peer, descriptor: socket.descriptor, proxy: socket.endpoint, preferences: [], automatic: true, now: now)
            logger.info("relayed packets from \(peer) through \(link.target.key): proxy at \(socket.endpoint)")
            return route
        } catch {
            logger.warning("\(error)")
            return nil
        }
    }

    // MARK: link actions

    private func perform(_ actions: [RelayLinkMachine.Action], on link: RelayLink, now: Double) {
        for action in actions {
            switch action {
            case .connectTCP:
                link.closeTCP()
                link.openTCP()
            case .closeTCP:
                link.closeTCP()
            case .register(let transport):
                link.send(link.proto.makeRegister(nowMillis: RelayClock.wallMillis()), over: transport)
            case .ping(let echo):
                link.send(link.proto.makePing(echo: echo), over: link.machine.transport)
            case .probeUDP(let echo):
                link.send(EchoFrame.ping(sessionID: 0, echo: echo).encode(), over: .udp)
            case .infoRequest:
                link.send(PaddedRequestFrame.infoRequest(echo: UInt64(now * 1000)).encode(), over: link.machine.transport)
            case .discoveryQuery:
                link.send(PaddedRequestFrame.discoveryQuery(echo: UInt64(now * 1000)).encode(), over: link.machine.transport)
            }
        }
    }
}
