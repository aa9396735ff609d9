import Foundation
import FormnetKit
import Logging
import NIOCore
import WireGuard

/// On a thread of its own (probes and HTTP block): infers this member's NAT type now and every
/// `natProbeInterval`, and reports it with the host candidates every `reportInterval`.
struct NatReporter: Sendable {
    let network: String
    let config: InterfaceConfig
    let wireGuardPort: @Sendable () -> UInt16
    let options: TraversalOptions
    let reportInterval: Duration
    let mailbox: DaemonMailbox
    let logger: Logger

    func start() {
        let thread = Thread { run() }
        thread.name = "nat-report"
        thread.start()
    }

    /// Capabilities are asked for with a short timeout: a member whose UDP is blocked never gets
    /// an answer through the tunnel, and must not wait long to find that out.
    static let capabilitiesTimeout: TimeAmount = .seconds(2)

    private func run() {
        let client = APIClient(config: config)
        let capabilitiesClient = APIClient(config: config, timeout: Self.capabilitiesTimeout)
        var observers: [Endpoint]?
        var probed = NatType.unknown
        var reported: NatType?
        var observed: Endpoint?
        var reportedRelays: [PublicKey] = []
        var nextProbe = ContinuousClock.now
        var nextReport = ContinuousClock.now
        while true {
            let port = wireGuardPort()
            let addresses = InterfaceAddress.all()
            if ContinuousClock.now >= nextProbe {
                if observers == nil { observers = try? capabilitiesClient.capabilities().stun }
                let targets = observers ?? NatDetection.defaultObserverPorts.map {
                    Endpoint(address: config.server.externalEndpoint.address, port: $0)
                }
                let local = Set(addresses.map(\.address))
                var fresh = NatDetection.probe(observers: targets, localAddresses: local)
                if NatDetection.mustConfirm(fresh, after: probed) {
                    fresh = NatDetection.probe(observers: targets, localAddresses: local)
                }
                probed = fresh
                nextProbe = ContinuousClock.now + options.natProbeInterval
            }
            observed = mailbox.serverObservedEndpoint
            let natType = NatDetection.refuted(NatDetection.confirm(probed, wireGuardPort: port, serverObserved: observed),
                                               relayAnswersOverUDP: mailbox.relayAnswersOverUDP)
            mailbox.post(natType: natType)
            if natType != reported {
                logger.info("\(network): NAT type \(natType.rawValue)")
                // A new type is worth telling peers at once: it decides whether they attempt.
                nextReport = ContinuousClock.now
            }
            let relays = mailbox.reportedRelays
            // Senders reach this member through these: a change is worth telling at once.
            if relays != reportedRelays { nextReport = ContinuousClock.now }
            if ContinuousClock.now >= nextReport {
                let candidates = options.reportHostCandidates
                    ? HostCandidates.select(addresses, excluding: network, port: port, limit: API.maxCandidates)
                        .filter { candidate in !options.excluded.contains { $0.contains(candidate.address) } }
                    : []
                do {
                    try client.reportCandidates(candidates, natType: natType == .unknown ? nil : natType,
                                                relays: relays.isEmpty && reportedRelays.isEmpty ? nil : relays)
                } catch {
                    logger.warning("\(network): reporting candidates: \(error)")
                }
                reported = natType
                // Also after a failure: the next try is at the next interval, not in a loop.
                reportedRelays = relays
                nextReport = ContinuousClock.now + reportInterval
            }
            // The server's view of the WireGuard port can confirm or refute port preservation as
            // soon as it changes, so it is checked every second.
            while ContinuousClock.now < nextReport && ContinuousClock.now < nextProbe
                    && mailbox.serverObservedEndpoint == observed && mailbox.reportedRelays == reportedRelays {
                Thread.sleep(forTimeInterval: 1)
            }
        }
    }
}
