import Foundation
import FormnetKit
import Logging
import Synchronization
import WireGuard

/// `formnet up --daemon`: fetch every interval and report host candidates, until SIGTERM or
/// SIGINT; the interface stays up afterwards, as innernet leaves it.
public struct FetchLoop {
    public let member: Member
    public let interval: Duration

    public init(member: Member, interval: Duration) {
        self.member = member
        self.interval = interval
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
        let client = APIClient(config: config)
        let sync = member.sync(config)
        let port = config.interface.listenPort
        while true {
            do {
                try sync.fetch(client: client)
                let device = try member.setup.backend.device(named: member.network)
                let candidates = HostCandidates.select(HostCandidates.interfaceAddresses(), excluding: member.network,
                                                       port: port ?? device.listenPort, limit: API.maxCandidates)
                try client.reportCandidates(candidates)
            } catch let error as AgentError {
                if case .interfaceNotUp = error { throw error }
                member.logger.warning("\(member.network): \(error)")
            } catch {
                member.logger.warning("\(member.network): \(error)")
            }
            if let signal = Self.waitForStop(interval) {
                member.logger.info("\(member.network): stopping on signal \(signal); the interface stays up")
                return
            }
        }
    }

    /// Sleeps for `interval`, or returns the stop signal that arrived before or during it.
    static func waitForStop(_ interval: Duration) -> Int32? {
        let deadline = ContinuousClock.now + interval
        while true {
            let signal = stopSignal.load(ordering: .relaxed)
            if signal != 0 { return signal }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return nil }
            Thread.sleep(forTimeInterval: min(0.1, Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18))
        }
    }
}

/// The stop signal caught, 0 before one arrives; lock-free, so a signal handler may store it.
private let stopSignal = Atomic<Int32>(0)
