import Foundation
import FormnetKit
import RelayClient
import FormnetTraversal
import GeoIP
import Logging
import Synchronization
import WireGuard

/// `formnet up --daemon`: keeps the peers current from a long-polled state, reports host
/// candidates and the NAT type, and drives NAT traversal, until SIGTERM or SIGINT; the
/// interface stays up afterwards, as innernet leaves it.
///
/// Worker threads do what blocks (the long poll, STUN probes, reports); this thread owns the
/// WireGuard device: it applies states and traversal attempts, ticking fast while any peer is
/// being attempted.
public struct MemberDaemon {
    public let member: Member
    public let interval: Duration
    public let traversal: TraversalOptions

    /// Tick while candidates are being tried: well inside one attempt's second.
    static let attemptTick: Duration = .milliseconds(100)
    static let idleTick: Duration = .seconds(1)
    /// Seconds between RTT probes to each peer the prober measures: a few hundred bytes a minute.
    static let probeInterval = 10.0

    public init(member: Member, interval: Duration, traversal: TraversalOptions = TraversalOptions()) {
        self.member = member
        self.interval = interval
        self.traversal = traversal
    }

    /// From now on SIGTERM and SIGINT end the loop between fetches instead of the process. A
    /// handler rather than a blocked mask: a blocked mask would be inherited by the wireguard-go
    /// daemons `up` starts, and a handler is reset for them on exec.
    public static func catchStopSignals() {
        signal(SIGTERM) { stopSignal.store($0, ordering: .relaxed) }
        signal(SIGINT) { stopSignal.store($0, ordering: .relaxed) }
    }

    public func run() throws {
        let config = try member.config()
        guard let clientKey = config.privateKey else {
            throw AgentError.invalidInput("the config for '\(member.network)' has no valid private key")
        }
        let ownKey = clientKey.publicKey
        let sync = member.sync(config)
        let backend = member.setup.backend
        let network = member.network
        let paths = member.options.paths
        let logger = member.logger
        let mailbox = DaemonMailbox()
        let seconds = Int(interval.components.seconds)
        StatePoller(network: network, config: config, ownKey: ownKey, wait: max(1, min(seconds, API.maxStateWait)),
                    mailbox: mailbox, logger: logger).start()
        let configuredPort = config.interface.listenPort
        NatReporter(network: network, config: config,
                    wireGuardPort: { configuredPort ?? (try? backend.device(named: network).listenPort) ?? 0 },
                    options: traversal, reportInterval: interval, mailbox: mailbox, logger: logger).start()
        let relayed = traversal.enabled && config.interface.relayFallback != false
        let wireGuardPort = (try? backend.device(named: network).listenPort) ?? 0
        let engine = relayed ? try RelayClientEngine(clientKey: clientKey, wireGuardPort: wireGuardPort, logger: logger) : nil
        defer { engine?.stop() }
        engine?.observeChannels { mailbox.wake() }
        var registry = RelayRegistrySync(network: network, path: paths.relayRegistry, logger: logger)
        let prober = traversal.enabled ? TunnelProber(interface: network, interval: Self.probeInterval, logger: logger) : nil
        let pathPlanner = traversal.enabled
            ? PathPlanner(network: network, options: traversal,
                          cache: ConnectionCache.load(from: paths.connectionCache(network)) { logger.warning("\($0)") },
                          relay: engine.map { RelayRoutes(status: $0.status()) }, logger: logger)
            : nil
        let choice = relayed
            ? RelayChoice(network: network,
                          locator: GeoLocator(database: try GeoDatabase.open(explicitPath: traversal.geoIPDatabase) { logger.warning("\($0)") }),
                          logger: logger)
            : nil
        // The cached state until the server answers: a member that cannot reach it (UDP blocked)
        // still tries its known peers and shows its NAT type.
        var planner = MemberPlanner(
            network: network, config: config, ownKey: ownKey, cachedState: sync.loadCache().state, paths: pathPlanner,
            relayChoice: choice, rememberedNat: TraversalStatus.load(from: paths.traversalStatus(network))?.natType ?? .unknown,
            engineWireGuardPort: wireGuardPort, logger: logger)
        logger.info("\(network): daemon running: peers kept current from the server\(pathPlanner == nil ? "" : ", NAT traversal on")\(engine == nil ? "" : ", relay fallback on")")
        var first = true
        while true {
            // The first pass does not wait for news: relays are registered and cached peers
            // tried at once, whether or not the server answers.
            let news = mailbox.next(timeout: first ? .zero : planner.needsFastTick(now: Date()) ? Self.attemptTick : Self.idleTick)
            first = false
            do {
                let before = (planner.paths?.cache, planner.paths?.status)
                // Kept and persisted even when applying the update throws: the machines' phases
                // and the recorded outcomes are the truth.
                defer { persist(planner.paths, previousCache: before.0, previousStatus: before.1) }
                let checked = news.state.map { sync.check($0) }
                if let engine, news.state != nil {
                    // Where this member's WireGuard sends from as others see it: relays that see
                    // the agent elsewhere get no channel request (RouteTable.channelRequestDue).
                    engine.setOwnAddresses(mailbox.serverObservedEndpoint.map { observed in
                        OwnAddresses(observedByServer: observed.address, local: Set(InterfaceAddress.all().map(\.address)))
                    })
                }
                let status = engine?.status()
                var observation = MemberPlanner.Observation(
                    state: checked, device: try backend.device(named: network), relays: status,
                    probedNat: news.natType, probes: prober?.drain() ?? [], now: Date())
                if let status {
                    observation.relayRecords = registry.records(serverRelays: (checked?.state ?? planner.latest)?.relays ?? [], status: status)
                }
                let plan = planner.step(observation)
                var proxies: [PublicKey: Endpoint] = [:]
                if let engine { proxies = execute(plan.relay, on: engine) }
                if let targets = plan.probeTargets { prober?.setTargets(targets) }
                let update = plan.resolving(proxies: proxies)
                if !update.peers.isEmpty { try backend.apply(update, to: network) }
                if let checked { try sync.record(checked) }
                if let status {
                    mailbox.post(relays: planner.reportedRelays)
                    mailbox.post(relayAnswersOverUDP: status.links.values.contains { $0.usable && $0.transport == .udp })
                }
                if let written = plan.relayStatus {
                    do { try written.save(to: paths.relayStatus(network)) } catch { logger.warning("\(network): relay status not saved: \(error)") }
                }
            } catch let error as AgentError {
                if case .interfaceNotUp = error { throw error }
                logger.warning("\(network): \(error)")
            } catch WireGuardError.interfaceNotFound {
                throw AgentError.interfaceNotUp(network)
            } catch {
                logger.warning("\(network): \(error)")
            }
            if let signal = Self.caughtStopSignal {
                logger.info("\(network): stopping on signal \(signal); the interface stays up")
                return
            }
        }
    }

    /// Carries the relay commands out in order; returns the proxies the routes opened.
    private func execute(_ commands: [RelayCommand], on engine: RelayClientEngine) -> [PublicKey: Endpoint] {
        var proxies: [PublicKey: Endpoint] = [:]
        for command in commands {
            switch command {
            case .setRelays(let targets, let udpBlocked, let known): engine.setRelays(targets, udpBlocked: udpBlocked, known: known)
            case .setWireGuardPort(let port): engine.setWireGuardPort(port)
            case .unroute(let peer): engine.unroute(peer)
            case .refuseChannel(let peer): engine.refuseChannel(of: peer)
            case .channelInbound(let peer, let channel): engine.noteChannelInbound(of: peer, through: channel)
            case .route(let peer, let preferences, let peerRelays):
                do {
                    proxies[peer] = try engine.route(peer, preferring: preferences, peerRelays: peerRelays)
                } catch {
                    member.logger.warning("relay route for \(peer): \(error)")
                }
            }
        }
        return proxies
    }

    /// Writes the connection cache and the traversal status when they changed; failures only
    /// warn, since both only speed things up or inform.
    private func persist(_ paths: PathPlanner?, previousCache: ConnectionCache?, previousStatus: TraversalStatus?) {
        guard let paths else { return }
        let files = member.options.paths
        let network = member.network
        if paths.cache != previousCache {
            let path = files.connectionCache(network)
            do { try paths.cache.save(to: path) } catch { member.logger.warning("\(network): saving \(path): \(error)") }
        }
        if paths.status != previousStatus {
            let path = files.traversalStatus(network)
            do { try paths.status.save(to: path) } catch { member.logger.warning("\(network): saving \(path): \(error)") }
        }
    }

    /// The stop signal that arrived, if one did.
    static var caughtStopSignal: Int32? {
        let signal = stopSignal.load(ordering: .relaxed)
        return signal == 0 ? nil : signal
    }
}

/// The stop signal caught, 0 before one arrives; lock-free, so a signal handler may store it.
private let stopSignal = Atomic<Int32>(0)
