import Foundation

public enum RelayClock {
    /// Both clocks through the vDSO: read once per batch on the hot path, so cheap enough.
    public static func now() -> RelayInstant {
        var wall = timespec()
        var mono = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        clock_gettime(CLOCK_MONOTONIC, &mono)
        return RelayInstant(wallMillis: UInt64(wall.tv_sec) * 1000 + UInt64(wall.tv_nsec) / 1_000_000,
                            monotonicNanos: UInt64(mono.tv_sec) * 1_000_000_000 + UInt64(mono.tv_nsec))
    }

    public static func wallMillis() -> UInt64 { now().wallMillis }

    /// Monotonic seconds, for timers and RTTs of the relay client and the agent's tunnel probes.
    public static func monotonicSeconds() -> Double {
        var mono = timespec()
        clock_gettime(CLOCK_MONOTONIC, &mono)
        return Double(mono.tv_sec) + Double(mono.tv_nsec) / 1e9
    }
}

/// A moment as the relay sees it: wall-clock milliseconds for protocol timestamps, monotonic
/// nanoseconds for rate limits (which must not jump when the wall clock is set).
public struct RelayInstant: Sendable {
    public var wallMillis: UInt64
    public var monotonicNanos: UInt64

    public init(wallMillis: UInt64, monotonicNanos: UInt64) {
        self.wallMillis = wallMillis
        self.monotonicNanos = monotonicNanos
    }
}
