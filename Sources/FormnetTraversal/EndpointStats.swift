import Foundation
import WireGuard

/// What formnet has seen of one endpoint of one peer (form-net's CachedEndpoint, made real).
/// Times are seconds since 1970 so the record survives restarts.
public struct EndpointStats: Codable, Sendable, Equatable {
    public var kind: EndpointKind
    public var successes: Int
    public var failures: Int
    public var lastSuccess: Double?
    public var lastFailure: Double?
    /// Seconds from the attempt's start to the handshake, smoothed.
    public var timeToHandshake: Double?
    /// Round-trip time in seconds, smoothed, from real traffic or probes.
    public var rtt: Double?
    /// Fraction of probes lost, smoothed, 0…1.
    public var loss: Double?

    /// Weight of the newest sample in the moving averages.
    static let smoothing = 0.3
    /// A success this old counts half as much as a fresh one.
    static let halfLife = 7.0 * 86_400

    public init(kind: EndpointKind) {
        self.kind = kind
        successes = 0
        failures = 0
    }

    public mutating func recordSuccess(at now: Double, timeToHandshake seconds: Double?) {
        successes += 1
        lastSuccess = now
        if let seconds { timeToHandshake = Self.smooth(timeToHandshake, seconds) }
    }

    public mutating func recordFailure(at now: Double) {
        failures += 1
        lastFailure = now
    }

    public mutating func recordProbe(rtt seconds: Double?, lost: Bool) {
        if let seconds { rtt = Self.smooth(rtt, seconds) }
        loss = Self.smooth(loss, lost ? 1 : 0)
    }

    /// Whether the last outcome here was a failure less than `window` seconds ago.
    public func failedRecently(now: Double, window: Double) -> Bool {
        guard let lastFailure, now - lastFailure < window else { return false }
        return lastFailure > (lastSuccess ?? -.infinity)
    }

    /// Positive for an endpoint worth trying first, negative for one that only failed, in
    /// roughly [-1, 1]: smoothed success rate, faded with the age of the last success, and
    /// reduced for high RTT and loss. The most recent outcome weighs most.
    public func score(now: Double) -> Double {
        guard successes + failures > 0 else { return 0 }
        let rate = (Double(successes) + 1) / (Double(successes + failures) + 2)
        guard let lastSuccess else { return -rate.distance(to: 1) }
        if let lastFailure, lastFailure > lastSuccess { return -0.5 * (1 - rate) - 0.01 }
        let age = max(0, now - lastSuccess)
        let recency = pow(0.5, age / Self.halfLife)
        let rttPenalty = rtt.map { min($0, 1) * 0.2 } ?? 0
        let lossPenalty = (loss ?? 0) * 0.3
        return max(0.01, rate * recency - rttPenalty - lossPenalty)
    }

    private static func smooth(_ old: Double?, _ sample: Double) -> Double {
        guard let old else { return sample }
        return old + smoothing * (sample - old)
    }
}
