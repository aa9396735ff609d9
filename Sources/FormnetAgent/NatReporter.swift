import Foundation
import FormnetKit
import Logging
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

    private func run() {
        let client = APIClient(config: config)
        var observers: [Endpoint]?
        var probed = NatType.unknown
        var nextProbe = ContinuousClock.now
        while true {
            let port = wireGuardPort()
            let addresses = HostCandidates.interfaceAddresses()
            if ContinuousClock.now >= nextProbe {
                if observers == nil { observers = try? client.capabilities().stun }
                let targets = observers ?? NatDetection.defaultObserverPorts.map {
                    Endpoint(address: config.server.externalEndpoint.address, port: $0)
                }
                probed = NatDetection.probe(observers: targets, localAddresses: Set(addresses.map(\.address)))
                nextProbe = ContinuousClock.now + options.natProbeInterval
            }
            let natType = NatDetection.confirm(probed, wireGuardPort: port, serverObserved: mailbox.serverObservedEndpoint)
            mailbox.post(natType: natType)
            let candidates = options.reportHostCandidates
                ? HostCandidates.select(addresses, excluding: network, port: port, limit: API.maxCandidates)
                    .filter { candidate in !options.excluded.contains { $0.contains(candidate.address) } }
                : []
            do {
                try client.reportCandidates(candidates, natType: natType == .unknown ? nil : natType)
            } catch {
                logger.warning("\(network): reporting candidates: \(error)")
            }
            Thread.sleep(forTimeInterval: Double(reportInterval.components.seconds))
        }
    }
}
