import Foundation
import FormnetKit
import RelayClient
import FormnetTraversal
import Logging
import WireGuard

/// The member daemon's decisions, without I/O: one step takes what the daemon observed in one
/// pass (the newest state, one device snapshot, the relay engine's status, the NAT probes, the
/// clock) and returns one `MemberPlan`: the device update, the relay commands, the files to
/// write. `MemberDaemon` is the only part that reads or writes anything.
///
/// Within a step the parts run in this order, each on the device as the updates before it
/// leave it (`Device.applying`): the state's peer diff, the relay choice, the traversal plan
/// (when the state or the NAT type changed), the traversal tick, the server's route.
struct MemberPlanner {
    /// What the daemon observed in one pass.
    struct Observation {
        /// A state that arrived in this pass, its pinned keys checked.
        var state: CheckedState?
        var device: Device
        /// Nil when relay fallback is off.
        var relays: RelayEngineStatus?
        /// This network's relays as the registry holds them.
        var relayRecords: [RelayRecord] = []
        /// What the STUN probes found so far (`.unknown` before they answer).
        var probedNat: NatType = .unknown
        var probes: [TunnelProbeBook.Outcome] = []
        var now: Date
    }

    let network: String
    let config: InterfaceConfig
    let ownKey: PublicKey
    let logger: Logger
    /// The newest state: the cached one until the server answers, so that a member that cannot
    /// reach it (UDP blocked) still tries its known peers.
    private(set) var latest: API.State?
    /// Per-peer paths, when NAT traversal is on (and with it the relay routes, when relay
    /// fallback is on too).
    private(set) var paths: PathPlanner?
    private(set) var relayChoice: RelayChoice?
    private(set) var server: ServerRoute
    private let rememberedNat: NatType
    private var plannedNat: NatType?
    private var engineWireGuardPort: UInt16?

    init(network: String, config: InterfaceConfig, ownKey: PublicKey, cachedState: API.State?, paths: PathPlanner?,
         relayChoice: RelayChoice?, rememberedNat: NatType, engineWireGuardPort: UInt16?, logger: Logger) {
        self.network = network
        self.config = config
        self.ownKey = ownKey
        latest = cachedState
        self.paths = paths
        self.relayChoice = relayChoice
        server = ServerRoute(server: config.server)
        self.rememberedNat = rememberedNat
        self.engineWireGuardPort = engineWireGuardPort
        self.logger = logger
    }

    /// The relays to report to the server, home first.
    var reportedRelays: [PublicKey] { relayChoice?.ranked ?? [] }

    /// Whether the daemon should tick fast: candidates are being tried, or a relayed path or a
    /// direct trial is about to start.
    func needsFastTick(now: Date) -> Bool { paths?.needsFastTick(now: now.timeIntervalSince1970) == true }

    mutating func step(_ observed: Observation) -> MemberPlan {
        var plan = MemberPlan()
        var device = observed.device
        let now = observed.now.timeIntervalSince1970
        if let relays = observed.relays { paths?.relay?.begin(status: relays) }
        func add(_ update: DeviceUpdate) {
            plan.device.peers += update.peers
            device = device.applying(update)
        }

        if let checked = observed.state {
            latest = checked.state
            let paths = self.paths
            let before = device.peersByKey
            let planned = Self.stateUpdate(checked, config: config, ownKey: ownKey, device: device,
                                           traversalOwnsEndpoints: paths != nil,
                                           serverEndpoint: server.endpoint(relay: paths?.relay),
                                           keepalive: { key, wanted in
                                               paths?.wireGuardKeepalive(desired: wanted, endpoint: before[key]?.endpoint) ?? wanted
                                           })
            if !planned.update.peers.isEmpty {
                logger.info("\(network): fetched \(planned.peers - 1) peer(s) from the server; applied \(planned.update.peers.count) change(s)")
            }
            add(planned.update)
        }
        guard var current = paths else { return plan }
        defer { paths = current }

        let usable = observed.relays?.links.values.filter(\.usable) ?? []
        let ownNat = NatDetection.effective(probed: observed.probedNat, remembered: rememberedNat,
                                            relayAnswersOverUDP: usable.contains { $0.transport == .udp },
                                            relayAnswersOverTCP: usable.contains { $0.transport == .tcp })
        if let relays = observed.relays, var choice = relayChoice {
            if device.listenPort != engineWireGuardPort {
                engineWireGuardPort = device.listenPort
                plan.relay.append(.setWireGuardPort(device.listenPort))
            }
            let refreshed = choice.refresh(records: observed.relayRecords, ownNat: ownNat,
                                           ownAddress: latest?.peers.first { $0.publicKey == ownKey }?.endpoint?.address,
                                           status: relays, wallClock: observed.now)
            relayChoice = choice
            if let command = refreshed.command { plan.relay.append(command) }
            plan.relayStatus = refreshed.written
            current.relay?.ranked = choice.ranked
        }
        if let latest, observed.state != nil || ownNat != plannedNat {
            plannedNat = ownNat
            let desired = DesiredPeer.from(state: latest, config: config, ownKey: ownKey)
                .filter { $0.publicKey != config.server.publicKey }
            add(current.plan(state: latest, desired: desired, ownKey: ownKey, ownNat: ownNat, device: device, now: now))
        }
        add(current.tick(device: device, now: now))
        add(server.update(device: device, ownNat: ownNat, relay: &current.relay, now: now))
        current.record(observed.probes, now: now)
        plan.probeTargets = current.probeTargets(device: device)
        plan.relay += current.relay?.take() ?? []
        return plan
    }

    /// The update that brings the device's peers in line with a state: every enabled, redeemed
    /// peer and the server (`DesiredPeer.from`), changed no more than needed (`PeerDiff`); and
    /// how many peers the state gives the device, the server among them.
    /// - Parameter traversalOwnsEndpoints: NAT traversal sets the member peers' endpoints, so the
    ///   state's endpoints must not overwrite the one it chose.
    /// - Parameter serverEndpoint: where WireGuard reaches the server (`ServerRoute`).
    /// - Parameter keepalive: a member peer's keepalive from the state's, where traversal owns
    ///   the endpoints (`PathPlanner.wireGuardKeepalive`: shorter on a relay channel).
    static func stateUpdate(_ checked: CheckedState, config: InterfaceConfig, ownKey: PublicKey, device: Device,
                            traversalOwnsEndpoints: Bool, serverEndpoint: Endpoint,
                            keepalive: (PublicKey, UInt16) -> UInt16 = { $1 }) -> (update: DeviceUpdate, peers: Int) {
        var desired = DesiredPeer.from(state: checked.state, config: config, ownKey: ownKey)
        for index in desired.indices {
            if desired[index].publicKey == config.server.publicKey {
                desired[index].endpoint = serverEndpoint
            } else if traversalOwnsEndpoints {
                desired[index].endpoint = nil
                desired[index].persistentKeepalive = keepalive(desired[index].publicKey, desired[index].persistentKeepalive)
            }
        }
        return (PeerDiff.update(current: device.peers, desired: desired, previousEndpoints: checked.previousEndpoints), desired.count)
    }
}
