import Foundation
import FormnetKit
import GeoIP
import Logging
import Testing
import WireGuard
@testable import FormnetAgent
@testable import RelayClient

/// The home relay across a re-registration: kept while its link registers again briefly, left
/// once that fails.
@Suite struct RelayChoiceTests {
    let near = PrivateKey.generate().publicKey
    let far = PrivateKey.generate().publicKey

    var records: [RelayRecord] {
        [RelayRecord(key: near, endpoint: Endpoint("192.0.2.10:51821")!), RelayRecord(key: far, endpoint: Endpoint("192.0.2.11:51821")!)]
    }

    /// Both relays registered; `near` answers in 20 ms, `far` in 80 ms, unless `nearPhase` says otherwise.
    func status(nearPhase: RelayLinkMachine.Phase = .registered(since: 0), nearUsable: Bool = true, now: Double) -> RelayEngineStatus {
        func link(_ key: PublicKey, _ address: String, phase: RelayLinkMachine.Phase, usable: Bool, rtt: Double) -> RelayEngineStatus.Link {
            RelayEngineStatus.Link(target: RelayTarget(key: key, endpoint: Endpoint(address)!), transport: .udp, phase: phase,
                                   usable: usable, rttSamples: [rtt, rtt, rtt], observedAddress: nil, info: nil)
        }
        return RelayEngineStatus(links: [near: link(near, "192.0.2.10:51821", phase: nearPhase, usable: nearUsable, rtt: 0.02),
                                         far: link(far, "192.0.2.11:51821", phase: .registered(since: 0), usable: true, rtt: 0.08)],
                                 routes: [:], discovered: [], grantedChannels: [], now: now)
    }

    func refresh(_ choice: inout RelayChoice, _ status: RelayEngineStatus) {
        _ = choice.refresh(records: records, ownNat: .portPreserving, ownAddress: nil, status: status,
                           wallClock: Date(timeIntervalSince1970: status.now))
    }

    @Test func aHomeWhoseLinkWentSilentStaysHomeWhileItRegistersAgain() {
        var choice = RelayChoice(network: "evilcorp", locator: GeoLocator(database: nil), logger: Logger(label: "test"))
        refresh(&choice, status(now: 10))
        #expect(choice.home == near)
        // Its overdue pings seen before the engine's tick restarts the link.
        refresh(&choice, status(nearUsable: false, now: 11))
        #expect(choice.home == near)
        refresh(&choice, status(nearPhase: .registering(since: 11, attempt: 1, lastSent: 11.5), nearUsable: false, now: 13))
        #expect(choice.home == near)
        // Registering for more than a few seconds: the relay failed, and home moves at once.
        refresh(&choice, status(nearPhase: .registering(since: 11, attempt: 3, lastSent: 14), nearUsable: false, now: 14.5))
        #expect(choice.home == far)
    }
}
