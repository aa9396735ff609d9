/// A token bucket in integer arithmetic on a monotonic nanosecond clock. Tokens are held in
/// billionths so that refilling by `elapsed ns × rate per second` needs no division per frame.
public struct TokenBucket: Sendable {
    private static let scale: Int64 = 1_000_000_000
    public let ratePerSecond: Int64
    public let burst: Int64
    private var nanoTokens: Int64
    private var last: UInt64

    public init(ratePerSecond: Int64, burst: Int64, now: UInt64) {
        self.ratePerSecond = max(ratePerSecond, 0)
        self.burst = max(burst, 1)
        nanoTokens = self.burst.multipliedReportingOverflow(by: Self.scale).overflow ? .max : self.burst * Self.scale
        last = now
    }

    /// Takes `cost` tokens if the bucket holds them; otherwise takes nothing.
    @inline(__always)
    public mutating func take(_ cost: Int64, now: UInt64) -> Bool {
        refill(now: now)
        let (needed, overflow) = cost.multipliedReportingOverflow(by: Self.scale)
        guard !overflow, nanoTokens >= needed else { return false }
        nanoTokens -= needed
        return true
    }

    /// Whole tokens available now.
    public mutating func available(now: UInt64) -> Int64 {
        refill(now: now)
        return nanoTokens / Self.scale
    }

    @inline(__always)
    private mutating func refill(now: UInt64) {
        guard now > last else { return }
        let elapsed = Int64(clamping: now - last)
        last = now
        let capacity = burst.multipliedReportingOverflow(by: Self.scale)
        let ceiling = capacity.overflow ? Int64.max : capacity.partialValue
        let (added, overflow) = elapsed.multipliedReportingOverflow(by: ratePerSecond)
        let (sum, sumOverflow) = nanoTokens.addingReportingOverflow(added)
        nanoTokens = overflow || sumOverflow ? ceiling : min(sum, ceiling)
    }
}
