import Foundation
import FormnetKit
import Logging
import NIOCore
import WireGuard

/// Keeps a network's server told about the relay this host runs (`formnet start-relay
/// --network`): an announcement as soon as the relay serves, then every
/// `API.relayAnnounceInterval` with its current load, on a thread of its own since the HTTP
/// client blocks; a withdrawal when it stops. The server drops a relay that is not renewed
/// within `API.relayExpiry`, so an announcement lost to an outage is only a late one, and a
/// failed one is logged and tried again after 2 s, doubling up to the interval.
public final class RelayAnnouncer: @unchecked Sendable {
    /// How often to look whether the relay serves yet, before the first announcement.
    static let servingPoll: Duration = .milliseconds(100)
    /// Stopping waits this long at most for an announcement in flight, then sends the withdrawal
    /// with `withdrawTimeout`, whose whole exchange the client bounds at twice that: the relay's
    /// shutdown is never held up by more than two seconds.
    static let inFlightWait: TimeInterval = 1
    static let withdrawTimeout: TimeAmount = .milliseconds(500)

    private let network: String
    private let config: InterfaceConfig
    private let relay: API.RelayAnnouncement
    private let interval: Duration
    private let load: @Sendable () -> Int?
    private let logger: Logger

    // Every stored var is read and written only with `condition` locked.
    private let condition = NSCondition()
    private var stopping = false
    private var announcing = false

    /// - Parameters:
    ///   - relay: what is announced; its `load` is replaced by `load()` at each announcement.
    ///   - load: the relay's registrations now; nil while it does not serve (yet), which holds
    ///     the announcement back so members are not sent to a relay that cannot answer.
    public init(network: String, config: InterfaceConfig, relay: API.RelayAnnouncement,
                interval: Duration = API.relayAnnounceInterval, logger: Logger, load: @escaping @Sendable () -> Int?) {
        self.network = network
        self.config = config
        self.relay = relay
        self.interval = interval
        self.load = load
        self.logger = logger
    }

    public func start() {
        let thread = Thread { self.run() }
        thread.name = "relay-announce"
        thread.start()
    }

    /// Stops announcing and withdraws the relay, best effort: a server that cannot be reached
    /// drops it at expiry anyway.
    public func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
            // An announcement landing after the withdrawal would list the relay until it expires.
            let deadline = Date().addingTimeInterval(Self.inFlightWait)
            while announcing, condition.wait(until: deadline) {}
        }
        do {
            try APIClient(config: config, timeout: Self.withdrawTimeout).withdrawRelay()
            logger.info("\(network): relay withdrawn from the server")
        } catch {
            logger.warning("\(network): could not withdraw the relay (the server drops it within \(API.relayExpiry)): \(error)")
        }
    }

    /// The first retry after a refused announcement; doubled after each further refusal.
    static let firstRetry: Duration = .seconds(2)

    /// The announcement for a relay with `load` registrations.
    func announcement(load: Int) -> API.RelayAnnouncement {
        var announcement = relay
        announcement.load = load
        return announcement
    }

    private func run() {
        let client = APIClient(config: config)
        var lastFailure: String?
        var announced = false
        var failures = 0
        while true {
            var pause = Self.servingPoll
            if let load = load() {
                pause = interval
                switch announce(announcement(load: load), with: client) {
                case nil:
                    return
                case .success:
                    if !announced || lastFailure != nil {
                        logger.info("\(network): relay announced to the server", metadata: [
                            "relay-key": "\(relay.publicKey)", "port": "\(relay.port)",
                            "endpoint": "\(relay.endpoint.map { "\($0)" } ?? "observed address")",
                        ])
                    }
                    announced = true
                    lastFailure = nil
                    failures = 0
                case .failure(let error):
                    // Soon at first (the server refuses a member whose address it has not observed
                    // yet, which a relay started with its agent usually is), then every interval.
                    pause = min(interval, Self.firstRetry * (1 << min(failures, 5)))
                    failures += 1
                    // Logged when the reason changes, not at every retry of one outage.
                    let reason = "\(error)"
                    if reason != lastFailure {
                        logger.warning("\(network): could not announce the relay, retrying in \(pause): \(reason)")
                    }
                    lastFailure = reason
                }
            }
            if paused(for: pause) { return }
        }
    }

    /// Sends one announcement unless stopping (nil).
    private func announce(_ announcement: API.RelayAnnouncement, with client: APIClient) -> Result<Void, any Error>? {
        let proceed = condition.withLock {
            if !stopping { announcing = true }
            return !stopping
        }
        guard proceed else { return nil }
        defer {
            condition.withLock {
                announcing = false
                condition.broadcast()
            }
        }
        return Result { try client.announceRelay(announcement) }
    }

    /// Waits `duration` or until stopped; true when stopped.
    private func paused(for duration: Duration) -> Bool {
        let deadline = Date().addingTimeInterval(Self.seconds(duration))
        return condition.withLock {
            while !stopping, condition.wait(until: deadline) {}
            return stopping
        }
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
