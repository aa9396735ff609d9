import RelayWire
import WireGuard

/// The relays a discovery query is answered with: configured peers (permanent) first, then
/// relays that announced themselves, most recent first. Bounded so that announcements cannot
/// grow memory.
public struct KnownRelays: Sendable {
    public static let announcedCapacity = 64
    public static let announcementLifetimeMillis: UInt64 = 15 * 60 * 1000
    public private(set) var configured: [KnownRelay]
    private var announced: [PublicKey: (relay: KnownRelay, lastMillis: UInt64)] = [:]

    public init(configured: [KnownRelay]) { self.configured = configured }

    public func isConfigured(_ key: PublicKey) -> Bool { configured.contains { $0.key == key } }

    public mutating func recordAnnouncement(_ relay: KnownRelay, nowMillis: UInt64) {
        expire(nowMillis: nowMillis)
        if announced[relay.key] == nil, announced.count >= Self.announcedCapacity,
           let oldest = announced.min(by: { $0.value.lastMillis < $1.value.lastMillis }) {
            announced[oldest.key] = nil
        }
        announced[relay.key] = (relay, nowMillis)
    }

    public mutating func list(nowMillis: UInt64) -> [KnownRelay] {
        expire(nowMillis: nowMillis)
        let recent = announced.values.sorted { $0.lastMillis > $1.lastMillis }.map(\.relay).filter { !isConfigured($0.key) }
        return Array((configured + recent).prefix(RelayWire.maxDiscoveryEntries))
    }

    private mutating func expire(nowMillis: UInt64) {
        announced = announced.filter { $0.value.lastMillis + Self.announcementLifetimeMillis > nowMillis }
    }
}
