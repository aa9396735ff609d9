import Foundation
import FormnetKit
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
public struct FetchLoop {
    public let member: Member
    public let interval: Duration
    public let traversal: TraversalOptions

    /// Tick while candidates are being tried: well inside one attempt's second.
    static let attemptTick: Duration = .milliseconds(100)
    static let idleTick: Duration = .seconds(1)
    /// Seconds between RTT probes to each directly connected peer: a few hundred bytes a minute.
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
        guard let ownKey = config.privateKey?.publicKey else {
            throw AgentError.invalidInput("the config for '\(member.network)' has no valid private key")
        }
        let sync = member.sync(config)
        let backend = member.setup.backend
        let network = member.network
        let mailbox = DaemonMailbox()
        let seconds = Int(interval.components.seconds)
        StatePoller(network: network, config: config, ownKey: ownKey, wait: max(1, min(seconds, API.maxStateWait)),
                    mailbox: mailbox, logger: member.logger).start()
        let configuredPort = config.interface.listenPort
        NatReporter(network: network, config: config,
                    wireGuardPort: { configuredPort ?? (try? backend.device(named: network).listenPort) ?? 0 },
                    options: traversal, reportInterval: interval, mailbox: mailbox, logger: member.logger).start()
        let relay = traversal.enabled && config.interface.relayFallback != false
            ? try RelayManager(network: network, paths: member.options.paths, clientKey: try privateKey(config),
                               wireGuardPort: (try? backend.device(named: network).listenPort) ?? 0,
                               geoDatabase: try GeoDatabase.open(explicitPath: traversal.geoIPDatabase) { member.logger.warning("\($0)") },
                               logger: member.logger)
            : nil
        relay?.engine.observeChannels { mailbox.wake() }
        var driver = traversal.enabled
            ? TraversalDriver(network: network, options: traversal, paths: member.options.paths, relay: relay,
                              prober: TunnelProber(interface: network, interval: Self.probeInterval, logger: member.logger),
                              logger: member.logger)
            : nil
        member.logger.info("\(network): daemon running: peers kept current from the server\(driver == nil ? "" : ", NAT traversal on")\(relay == nil ? "" : ", relay fallback on")")
        // The cached state until the server answers: a member that cannot reach it (UDP blocked)
        // still tries its known peers and shows its NAT type.
        var latest: API.State? = sync.loadCache().state
        let remembered = TraversalStatus.load(from: member.options.paths.traversalStatus(network))?.natType ?? .unknown
        var plannedNat: NatType?
        var serverRoute = ServerRoute(server: config.server)
        var first = true
        while true {
            // The first pass does not wait for news: relays are registered and cached peers
            // tried at once, whether or not the server answers.
            let news = mailbox.next(timeout: first ? .zero : driver?.needsFastTick == true ? Self.attemptTick : Self.idleTick)
            first = false
            do {
                if let state = news.state {
                    latest = try sync.apply(state, traversalOwnsEndpoints: driver != nil, serverEndpoint: serverRoute.current).state
                }
                if var current = driver {
                    let before = current.snapshot
                    // Kept and persisted even when applying an update throws: the machines'
                    // phases and the recorded outcomes are the truth.
                    defer {
                        current.persist(previousCache: before.0, previousStatus: before.1)
                        driver = current
                    }
                    let now = Date().timeIntervalSince1970
                    let relays = relay?.engine.status()
                    let usable = relays?.links.values.filter(\.usable) ?? []
                    let ownNat = NatDetection.effective(probed: news.natType, remembered: remembered,
                                                        relayAnswersOverUDP: usable.contains { $0.transport == .udp },
                                                        relayAnswersOverTCP: usable.contains { $0.transport == .tcp })
                    if let relay, let relays {
                        relay.engine.setWireGuardPort((try? backend.device(named: network).listenPort) ?? 0)
                        relay.refresh(serverRelays: latest?.relays ?? [], ownNat: ownNat,
                                      ownAddress: latest?.peers.first { $0.publicKey == ownKey }?.endpoint?.address, status: relays)
                        mailbox.post(relays: relay.reported)
                    }
                    current.lastRelayStatus = relays
                    if let latest, news.state != nil || ownNat != plannedNat {
                        plannedNat = ownNat
                        let desired = DesiredPeer.from(state: latest, config: config, ownKey: ownKey)
                            .filter { $0.publicKey != config.server.publicKey }
                        try apply(current.plan(state: latest, desired: desired, ownKey: ownKey, ownNat: ownNat,
                                               device: try backend.device(named: network), now: now), backend: backend)
                    }
                    let device = try backend.device(named: network)
                    try apply(current.tick(device: device, now: now, relays: relays), backend: backend)
                    try apply(serverRoute.update(device: device, ownNat: ownNat, relay: relay, status: relays, now: now), backend: backend)
                }
            } catch let error as AgentError {
                if case .interfaceNotUp = error { throw error }
                member.logger.warning("\(network): \(error)")
            } catch WireGuardError.interfaceNotFound {
                throw AgentError.interfaceNotUp(network)
            } catch {
                member.logger.warning("\(network): \(error)")
            }
            if let signal = Self.caughtStopSignal {
                member.logger.info("\(network): stopping on signal \(signal); the interface stays up")
                return
            }
        }
    }

    private func privateKey(_ config: InterfaceConfig) throws -> PrivateKey {
        guard let key = config.privateKey else {
            throw AgentError.invalidInput("the config for '\(member.network)' has no valid private key")
        }
        return key
    }

    private func apply(_ update: DeviceUpdate, backend: any WireGuardBackend) throws {
        guard !update.peers.isEmpty else { return }
        try backend.apply(update, to: member.network)
    }

    /// The stop signal that arrived, if one did.
    static var caughtStopSignal: Int32? {
        let signal = stopSignal.load(ordering: .relaxed)
        return signal == 0 ? nil : signal
    }
}

/// The stop signal caught, 0 before one arrives; lock-free, so a signal handler may store it.
private let stopSignal = Atomic<Int32>(0)
