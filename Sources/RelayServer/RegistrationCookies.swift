import RelayWire

/// The relay's registration cookies: a keyed hash of the address a register frame came from, so
/// that only who receives packets at that address can present it. The key changes every
/// `rotationNanos` and the one before stays valid, so a cookie works for one to two periods; and
/// it is new at every start, so nothing from before a restart is valid after it.
public struct RegistrationCookies: Sendable {
    public static let rotationNanos: UInt64 = 120_000_000_000
    private var current: [UInt8]
    private var previous: [UInt8]
    private var rotatedAt: UInt64

    public init(now: UInt64) {
        current = RelayBox.randomBytes(32)
        previous = RelayBox.randomBytes(32)
        rotatedAt = now
    }

    /// The cookie for a client at `address`.
    public mutating func cookie(for address: RelayAddress, now: UInt64) -> [UInt8] {
        rotate(now: now)
        return Self.cookie(for: address, key: current)
    }

    /// Whether `nonce` begins with the cookie of `address`, current or previous.
    public mutating func accepts(nonce: UnsafeRawBufferPointer, from address: RelayAddress, now: UInt64) -> Bool {
        rotate(now: now)
        guard nonce.count >= RelayWire.cookieLength else { return false }
        let presented = nonce[0..<RelayWire.cookieLength]
        return [current, previous].contains { key in Self.isEqual(presented, Self.cookie(for: address, key: key)) }
    }

    private mutating func rotate(now: UInt64) {
        guard now &- rotatedAt >= Self.rotationNanos else { return }
        // After a long quiet spell both keys are stale: a cookie must not outlive two periods.
        previous = now &- rotatedAt >= 2 * Self.rotationNanos ? RelayBox.randomBytes(32) : current
        current = RelayBox.randomBytes(32)
        rotatedAt = now
    }

    private static func cookie(for address: RelayAddress, key: [UInt8]) -> [UInt8] {
        var message: [UInt8] = []
        address.encode(into: &message)
        return RelayBox.keyedHash(message, key: key, length: RelayWire.cookieLength)
    }

    /// Compares in time independent of where the bytes differ.
    private static func isEqual(_ a: Slice<UnsafeRawBufferPointer>, _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
