import RelayWire

/// Nonces of accepted registrations and announcements, each kept for twice the timestamp window
/// after it was accepted: a timestamp can be up to one window in the future and then stays fresh
/// for one more, so no frame that still passes the clock check can reuse a nonce that was
/// forgotten. Entries expire in insertion order, which lets a FIFO do the bookkeeping.
public struct ReplayCache: Sendable {
    struct Nonce: Hashable, Sendable {
        var a: UInt64, b: UInt64, c: UInt64
        init?(_ bytes: [UInt8]) {
            guard bytes.count == RelayWire.nonceLength else { return nil }
            (a, b, c) = bytes.withUnsafeBytes {
                ($0.loadUnaligned(fromByteOffset: 0, as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                 $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
            }
        }
    }

    public enum Outcome: Equatable, Sendable { case fresh, replayed, full }

    public let capacity: Int
    public let retentionMillis: UInt64
    private var seen: Set<Nonce> = []
    private var order: [(nonce: Nonce, expires: UInt64)] = []
    private var head = 0

    public init(capacity: Int = 200_000, retentionMillis: UInt64 = 2 * RelayWire.timestampWindowMillis) {
        self.capacity = capacity
        self.retentionMillis = retentionMillis
    }

    public var count: Int { seen.count }

    /// Records the nonce if it was not seen; a full cache refuses rather than forgets.
    public mutating func insert(_ bytes: [UInt8], now: UInt64) -> Outcome {
        expire(now: now)
        guard let nonce = Nonce(bytes) else { return .replayed }
        if seen.contains(nonce) { return .replayed }
        guard seen.count < capacity else { return .full }
        seen.insert(nonce)
        order.append((nonce, now + retentionMillis))
        return .fresh
    }

    private mutating func expire(now: UInt64) {
        while head < order.count, order[head].expires <= now {
            seen.remove(order[head].nonce)
            head += 1
        }
        if head > 1024, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
