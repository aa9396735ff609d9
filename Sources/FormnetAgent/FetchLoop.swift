import Foundation
import FormnetKit
import Logging
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

    /// Blocks SIGTERM and SIGINT for the whole process so they wait for `sigtimedwait` between
    /// fetches instead of killing it mid-update. Call it before anything starts threads (the
    /// HTTP client's event loop), which inherit the mask.
    public static func holdStopSignals() {
        var set = stopSignals()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    static func stopSignals() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        return set
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

    /// Sleeps for `interval`, or returns the stop signal that arrived during it.
    static func waitForStop(_ interval: Duration) -> Int32? {
        var set = stopSignals()
        let deadline = ContinuousClock.now + interval
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return nil }
            let (seconds, attoseconds) = left.components
            var timeout = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
            let signal = sigtimedwait(&set, nil, &timeout)
            if signal > 0 { return signal }
            if errno != EINTR && errno != EAGAIN { return nil }
        }
    }
}
