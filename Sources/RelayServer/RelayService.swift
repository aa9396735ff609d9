import Dispatch
import Foundation
import Logging
import NIOConcurrencyHelpers
import RelayWire
import WireGuard

/// Whom the relay serves, as chosen on the command line.
public enum AccessSource: Sendable, Equatable {
    case open
    case allowKeys(path: String)
    case network(name: String)
}

public struct RelayServiceOptions: Sendable {
    public var port: UInt16 = RelayWire.defaultPort
    public var channelPorts = RelayWire.defaultChannelPorts
    /// Nil: all addresses (dual-stack). Tests bind loopback.
    public var bindHost: String?
    public var configuration = RelayConfiguration()
    public var access: AccessSource
    public var statusPort: Int?
    public var statusHost = "127.0.0.1"
    /// Whether the status server answers /peers and /peers/KEY.
    public var statusPeers = false
    public var dataDirectory: String

    public init(access: AccessSource, dataDirectory: String) {
        self.access = access
        self.dataDirectory = dataDirectory
    }
}

/// `formnet start-relay`: the UDP forwarding thread, the TCP server, the status server and the
/// maintenance timer around one shared RelayState, until SIGTERM or SIGINT.
public final class RelayService: Sendable {
    public static let maintenanceInterval: TimeInterval = 1
    public static let policyPollSeconds = 2
    public static let announceIntervalSeconds = 300

    public let options: RelayServiceOptions
    public let publicKey: PublicKey
    public let createdKey: Bool
    private let key: PrivateKey
    private let logger: Logger
    /// The state `run` serves from, while it does; read from other threads.
    private let serving = NIOLockedValueBox<NIOLockedValueBox<RelayState>?>(nil)

    /// Registrations held now; nil while the relay is not serving, before `run` has bound its
    /// sockets or after it stopped.
    public var registrationCount: Int? {
        serving.withLockedValue { $0 }?.withLockedValue { $0.sessions.count }
    }

    public init(options: RelayServiceOptions, logger: Logger) throws {
        self.options = options
        self.logger = logger
        (key, createdKey) = try RelayIdentity.loadOrCreate(dataDirectory: options.dataDirectory)
        publicKey = key.publicKey
    }

    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Serves until SIGTERM or SIGINT, then closes everything and returns.
    public func run() throws {
        let watcher: KeyListWatcher? = switch options.access {
        case .open: nil
        case .allowKeys(let path): KeyListWatcher(path: path)
        case .network(let name): KeyListWatcher(path: KeyListFile.networkMembersPath(dataDirectory: options.dataDirectory, network: name))
        }
        var initialPolicy = AccessPolicy.open
        if let watcher {
            switch watcher.poll() {
            case .reloaded(let parsed):
                report(parsed, from: watcher.path)
                initialPolicy = .keys(parsed.keys)
            case .unreadable(let reason):
                if case .allowKeys = options.access { throw StartError(description: "cannot read --allow-keys file \(watcher.path): \(reason)") }
                logger.warning("network member file not readable yet; serving no one until it appears", metadata: ["path": "\(watcher.path)", "error": "\(reason)"])
                initialPolicy = .keys([])
            case .unchanged:
                initialPolicy = .keys([])
            }
        }

        let startedAt = RelayClock.now()
        let udp = try UDPRelaySocket(port: options.port, host: options.bindHost)
        // Each channel is a socket.
        DescriptorLimit.raiseToHard()
        let channelSockets = try ChannelSockets(like: udp, ports: options.channelPorts)
        let state = NIOLockedValueBox(RelayState(relayKey: key, configuration: options.configuration, policy: initialPolicy, now: startedAt,
                                                 channelPorts: channelSockets))
        let tcpHost = options.bindHost ?? (udp.family == AF_INET6 ? "::" : "0.0.0.0")
        let tcpLimits = TCPRelayServer.Limits(maxConnections: 2 * options.configuration.maxConnections,
                                              perSource: options.configuration.maxTCPPerAddress)
        let tcp = try TCPRelayServer(host: tcpHost, port: Int(udp.boundPort), limits: tcpLimits, state: state, udp: udp, logger: logger)
        let status = try options.statusPort.map { try RelayStatusServer(host: options.statusHost, port: $0, state: state, startedAt: startedAt, peerDetail: options.statusPeers) }
        serving.withLockedValue { $0 = state }

        let logger = self.logger
        let forwardingDone = DispatchSemaphore(value: 0)
        let forwarding = Thread {
            udp.runForwardingLoop(state: state, toTCP: { tcp.send($1, toConnection: $0) }, logger: logger)
            forwardingDone.signal()
        }
        forwarding.name = "relay-udp"
        forwarding.start()
        let channelsDone = DispatchSemaphore(value: 0)
        let channelForwarding = Thread {
            channelSockets.runForwardingLoop(state: state, main: udp, toTCP: { tcp.send($1, toConnection: $0) }, logger: logger)
            channelsDone.signal()
        }
        channelForwarding.name = "relay-channels"
        channelForwarding.start()

        let maintenanceQueue = DispatchQueue(label: "formnet.relay.maintenance")
        let timer = DispatchSource.makeTimerSource(queue: maintenanceQueue)
        let ticks = NIOLockedValueBox(0)
        timer.schedule(deadline: .now(), repeating: Self.maintenanceInterval)
        timer.setEventHandler { [self] in
            let tick = ticks.withLockedValue { $0 += 1; return $0 }
            state.withLockedValue { $0.expireIdle(now: RelayClock.now()) }
            if let watcher, tick % Self.policyPollSeconds == 0 { reloadPolicy(watcher, state: state) }
            if tick % Self.announceIntervalSeconds == 1 { announce(through: udp) }
        }
        timer.resume()

        let stop = DispatchSemaphore(value: 0)
        let signalQueue = DispatchQueue(label: "formnet.relay.signals")
        let signalSources = [SIGTERM, SIGINT].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: signalQueue)
            source.setEventHandler { stop.signal() }
            source.resume()
            return source
        }

        let listening = tcpHost.contains(":") ? "[\(tcpHost)]:\(udp.boundPort)" : "\(tcpHost):\(udp.boundPort)"
        logger.info("relay listening", metadata: [
            "udp": "\(listening)", "tcp": "\(listening)",
            "status": "\(options.statusPort.map { "\(options.statusHost):\($0)" } ?? "off")",
            "public_key": "\(publicKey.base64)", "access": "\(options.access)",
            "max_connections": "\(options.configuration.maxConnections)",
            "max_tcp_per_address": "\(options.configuration.maxTCPPerAddress)",
            "max_sessions_per_address": "\(options.access == .open ? "\(options.configuration.maxSessionsPerAddress)" : "off")",
            "max_bandwidth_kbps": "\(options.configuration.maxBandwidthKBps)",
            "max_tunnels_per_device": "\(options.configuration.maxTunnelsPerDevice)",
            "max_channels": "\(options.configuration.maxChannels)",
            "rate_limit": "\(options.configuration.rateLimit)",
        ])
        stop.wait()
        serving.withLockedValue { $0 = nil }
        logger.info("shutting down")
        signalSources.forEach { $0.cancel() }
        timer.cancel()
        udp.stop()
        channelSockets.stop()
        forwardingDone.wait()
        channelsDone.wait()
        state.withLockedValue { $0.closeChannels() }
        tcp.shutdown()
        status?.shutdown()
        let (sessions, forwarded) = state.withLockedValue { ($0.sessions.count, $0.counters.framesForwarded) }
        logger.info("relay stopped", metadata: ["sessions": "\(sessions)", "frames_forwarded": "\(forwarded)"])
    }

    private func reloadPolicy(_ watcher: KeyListWatcher, state: NIOLockedValueBox<RelayState>) {
        switch watcher.poll() {
        case .unchanged: return
        case .unreadable(let reason):
            logger.debug("key list unreadable; keeping the previous one", metadata: ["path": "\(watcher.path)", "error": "\(reason)"])
        case .reloaded(let parsed):
            report(parsed, from: watcher.path)
            state.withLockedValue { $0.replacePolicy(.keys(parsed.keys)) }
        }
    }

    private func report(_ parsed: KeyListFile.Parsed, from path: String) {
        logger.info("loaded key list", metadata: ["path": "\(path)", "keys": "\(parsed.keys.count)"])
        if !parsed.badLines.isEmpty {
            logger.warning("skipped lines that are not base64 keys", metadata: ["path": "\(path)", "lines": "\(parsed.badLines)"])
        }
    }

    /// Tells each --peer-relay about this relay; the all-zero IPv4 endpoint means "my source
    /// address" unless an endpoint was configured.
    private func announce(through udp: UDPRelaySocket) {
        let configuration = options.configuration
        let endpoint = configuration.endpoints.first ?? RelayAddress(high: 0, low: RelayAddress.v4MappedLowPrefix, port: udp.boundPort)
        for peer in configuration.peerRelays {
            let payload = AnnouncePayload(timestamp: RelayClock.wallMillis(), endpoint: endpoint, location: configuration.location)
            let nonce = RelayBox.randomNonce()
            let frame = AnnounceFrame(announcerKey: publicKey, nonce: nonce,
                                      sealedPayload: RelayBox.seal(payload.encode(), nonce: nonce, to: peer.key, from: key)).encode()
            if !frame.withUnsafeBytes({ udp.send($0, to: peer.endpoint) }) {
                logger.debug("announce not sent", metadata: ["peer": "\(peer.endpoint)"])
            }
        }
    }
}
