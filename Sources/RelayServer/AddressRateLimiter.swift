import RelayWire

/// A rate limit per source IP in constant memory: a fixed table of token buckets indexed by a
/// per-process keyed hash of the address (the port is ignored: one host, one budget). Addresses
/// that collide share a bucket, which only makes the limit stricter for them, and an attacker
/// cannot aim collisions because the hash key is random.
public struct AddressRateLimiter: Sendable {
    public static let defaultSlots = 65_536
    private var buckets: [TokenBucket]
    private let mask: Int

    public init(ratePerSecond: Int64, burst: Int64, slots: Int = defaultSlots, now: UInt64) {
        precondition(slots > 0 && slots & (slots - 1) == 0, "slot count must be a power of two")
        buckets = Array(repeating: TokenBucket(ratePerSecond: ratePerSecond, burst: burst, now: now), count: slots)
        mask = slots - 1
    }

    @inline(__always)
    public mutating func allow(_ address: RelayAddress, cost: Int64 = 1, now: UInt64) -> Bool {
        var hasher = Hasher()
        hasher.combine(address.high)
        hasher.combine(address.low)
        let slot = hasher.finalize() & mask
        return buckets[slot].take(cost, now: now)
    }
}
