import RelayWire
import WireGuard

/// Where a registration's frames come from and go to: a UDP address, or a TCP connection.
public enum Binding: Hashable, Sendable, CustomStringConvertible {
    case udp(RelayAddress)
    case tcp(connection: UInt64, peer: RelayAddress)

    public var description: String {
        switch self {
        case .udp(let address): "udp \(address)"
        case .tcp(let connection, let peer): "tcp \(peer) (connection \(connection))"
        }
    }

    /// The address the client's frames come from.
    public var address: RelayAddress {
        switch self {
        case .udp(let address): address
        case .tcp(_, let peer): peer
        }
    }
}

/// Traffic from one registered key to one destination key, with its bandwidth budget.
public struct Tunnel: Sendable {
    public var destination: PeerID
    public var bucket: TokenBucket
    public var frames: UInt64 = 0
    public var bytes: UInt64 = 0
    /// When a frame last went through (`SessionTable.charge`): at the limit, the tunnel idle
    /// longest gives its place (`SessionTable.tunnelIdleReuse`).
    public var lastUsedNanos: UInt64
    /// WireGuard session indices from this tunnel's authenticated packets (data frames, and
    /// channel packets from the channel's learned address), latest four each: the sender's own
    /// (initiations and responses), and the destination's as the sender addressed it (responses,
    /// cookie replies, transport). A channel's source proves it is the owner's WireGuard by
    /// naming one of the peer's (see ADR 10).
    public var senderIndices = WireGuardIndices()
    public var destinationIndices = WireGuardIndices()
}

/// The last four WireGuard session indices seen, in a fixed array: WireGuard keeps at most three
/// sessions per peer (previous, current, next), and a fourth covers a handshake under way.
public struct WireGuardIndices: Sendable {
    private var slots: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    private var count = 0

    public init() {}

    public mutating func record(_ index: UInt32) {
        guard !contains(index) else { return }
        switch count % 4 {
        case 0: slots.0 = index
        case 1: slots.1 = index
        case 2: slots.2 = index
        default: slots.3 = index
        }
        count += 1
    }

    public func contains(_ index: UInt32) -> Bool {
        let seen = min(count, 4)
        return (seen > 0 && slots.0 == index) || (seen > 1 && slots.1 == index) || (seen > 2 && slots.2 == index)
            || (seen > 3 && slots.3 == index)
    }
}

public struct Session: Sendable {
    public var key: PublicKey
    public var peer: PeerID
    /// Zero marks a free slot.
    public var id: UInt64
    public var binding: Binding
    public var registeredAtMillis: UInt64
    public var lastSeenMillis: UInt64
    public var tunnels: [Tunnel]
}

/// Registrations, found in O(1) by session id (every data frame) and by key (every
/// destination). Slots are reused through a free list, so a session's tunnel array keeps its
/// capacity and steady-state forwarding allocates nothing.
public struct SessionTable: Sendable {
    public private(set) var slots: ContiguousArray<Session> = []
    private var free: [Int] = []
    private var bySession: [UInt64: Int] = [:]
    private var byKey: [PeerID: Int] = [:]
    private var bySource: [SourceNetwork: Int] = [:]
    public let tunnelCapacity: Int
    /// Tunnels a new slot has room for before it allocates: a member relaying to many peers grows
    /// its array once, while a relay of a thousand members does not reserve a thousand tunnels
    /// for each of them.
    static let reservedTunnels = 32

    public init(expectedSessions: Int = 0, tunnelCapacity: Int) {
        self.tunnelCapacity = tunnelCapacity
        slots.reserveCapacity(expectedSessions)
        bySession.reserveCapacity(expectedSessions)
        byKey.reserveCapacity(expectedSessions)
    }

    public var count: Int { byKey.count }
    public var tunnelCount: Int { byKey.values.reduce(0) { $0 + slots[$1].tunnels.count } }
    public var keys: [PublicKey] { byKey.values.map { slots[$0].key } }

    @inline(__always)
    public func slot(forSession id: UInt64) -> Int? { id == 0 ? nil : bySession[id] }

    @inline(__always)
    public func slot(forPeer peer: PeerID) -> Int? { byKey[peer] }

    public func slot(forKey key: PublicKey) -> Int? { byKey[PeerID(key)] }

    public func session(forKey key: PublicKey) -> Session? { slot(forKey: key).map { slots[$0] } }

    /// How many registrations come from `address`'s source network.
    public func count(from address: RelayAddress) -> Int { bySource[SourceNetwork(address), default: 0] }

    /// Registers `key`, replacing any earlier registration of it (new id, new binding, no tunnels).
    /// Returns the slot.
    @discardableResult
    public mutating func register(key: PublicKey, id: UInt64, binding: Binding, nowMillis: UInt64) -> Int {
        precondition(id != 0 && bySession[id] == nil)
        let peer = PeerID(key)
        countSource(of: binding, by: 1)
        if let existing = byKey[peer] {
            countSource(of: slots[existing].binding, by: -1)
            bySession[slots[existing].id] = nil
            slots[existing].id = id
            slots[existing].binding = binding
            slots[existing].registeredAtMillis = nowMillis
            slots[existing].lastSeenMillis = nowMillis
            slots[existing].tunnels.removeAll(keepingCapacity: true)
            bySession[id] = existing
            return existing
        }
        let session = Session(key: key, peer: peer, id: id, binding: binding, registeredAtMillis: nowMillis, lastSeenMillis: nowMillis, tunnels: [])
        let slot: Int
        if let reused = free.popLast() {
            slot = reused
            let tunnels = slots[slot].tunnels
            slots[slot] = session
            slots[slot].tunnels = tunnels
        } else {
            slot = slots.count
            slots.append(session)
            slots[slot].tunnels.reserveCapacity(min(tunnelCapacity, Self.reservedTunnels))
        }
        bySession[id] = slot
        byKey[peer] = slot
        return slot
    }

    public mutating func remove(key: PublicKey) {
        guard let slot = byKey.removeValue(forKey: PeerID(key)) else { return }
        countSource(of: slots[slot].binding, by: -1)
        bySession[slots[slot].id] = nil
        slots[slot].id = 0
        slots[slot].tunnels.removeAll(keepingCapacity: true)
        free.append(slot)
    }

    private mutating func countSource(of binding: Binding, by change: Int) {
        let source = SourceNetwork(binding.address)
        let held = bySource[source, default: 0] + change
        bySource[source] = held > 0 ? held : nil
    }

    /// Removes every registration whose client sent nothing since `cutoffMillis`, or that
    /// `shouldRemove` names; returns how many went.
    @discardableResult
    public mutating func removeAll(idleBefore cutoffMillis: UInt64, or shouldRemove: (Session) -> Bool = { _ in false }) -> Int {
        let doomed = byKey.values.compactMap { slot in
            slots[slot].lastSeenMillis < cutoffMillis || shouldRemove(slots[slot]) ? slots[slot].key : nil
        }
        for key in doomed { remove(key: key) }
        return doomed.count
    }

    @inline(__always)
    public mutating func touch(slot: Int, nowMillis: UInt64) {
        slots[slot].lastSeenMillis = nowMillis
    }

    public enum TunnelAdmission: Equatable { case admitted(Int), tooMany }

    /// A tunnel no frame went through this long may be replaced at the limit. The limit bounds
    /// the destinations a key talks to at once, not in its registration's life: a member that
    /// starts tries every peer it has before their direct paths are up, and with tunnels kept
    /// for good it could never reach a peer that came later (seen in the three-region lab). An
    /// idle WireGuard session still sends a keepalive or a handshake at least every two minutes
    /// when in use, persistent keepalives every 25 s; a minute idle is a pair that is not talking.
    public static let tunnelIdleReuse: UInt64 = 60_000_000_000

    /// The index of the sender's tunnel to `destination`, made on first use within the limit;
    /// at the limit, in the place of the tunnel idle longest if it is idle `tunnelIdleReuse`.
    @inline(__always)
    public mutating func tunnel(from slot: Int, to destination: PeerID, limit: Int, nowNanos: UInt64,
                                makeBucket: () -> TokenBucket) -> TunnelAdmission {
        if let index = slots[slot].tunnels.firstIndex(where: { $0.destination == destination }) { return .admitted(index) }
        let tunnel = Tunnel(destination: destination, bucket: makeBucket(), lastUsedNanos: nowNanos)
        guard slots[slot].tunnels.count >= limit else {
            slots[slot].tunnels.append(tunnel)
            return .admitted(slots[slot].tunnels.count - 1)
        }
        let tunnels = slots[slot].tunnels
        guard let idlest = tunnels.indices.min(by: { tunnels[$0].lastUsedNanos < tunnels[$1].lastUsedNanos }),
              nowNanos >= tunnels[idlest].lastUsedNanos, nowNanos - tunnels[idlest].lastUsedNanos >= Self.tunnelIdleReuse
        else { return .tooMany }
        slots[slot].tunnels[idlest] = tunnel
        return .admitted(idlest)
    }

    /// Records the indices an authenticated WireGuard packet on this tunnel carries.
    @inline(__always)
    public mutating func recordIndices(of packet: UnsafeRawBufferPointer, slot: Int, tunnel: Int) {
        if let index = WireGuardMessageShape.senderIndex(packet) { slots[slot].tunnels[tunnel].senderIndices.record(index) }
        if let index = WireGuardMessageShape.receiverIndex(packet) { slots[slot].tunnels[tunnel].destinationIndices.record(index) }
    }

    /// Records `index` as one `sender`'s WireGuard chose for its session with `destination`'s.
    public mutating func recordOwnIndex(_ index: UInt32, of sender: PeerID, toward destination: PeerID) {
        guard let slot = byKey[sender], let tunnel = slots[slot].tunnels.firstIndex(where: { $0.destination == destination }) else { return }
        slots[slot].tunnels[tunnel].senderIndices.record(index)
    }

    /// Whether `index` is one of `peer`'s WireGuard's for its session with `owner`'s, as the
    /// relay saw in authenticated packets: `peer` sent it as its own, or `owner` addressed `peer` by it.
    public func isIndex(_ index: UInt32, of peer: PeerID, with owner: PeerID) -> Bool {
        if let slot = byKey[peer], slots[slot].tunnels.contains(where: { $0.destination == owner && $0.senderIndices.contains(index) }) {
            return true
        }
        guard let slot = byKey[owner] else { return false }
        return slots[slot].tunnels.contains { $0.destination == peer && $0.destinationIndices.contains(index) }
    }

    @inline(__always)
    public mutating func charge(slot: Int, tunnel: Int, bytes: Int, nowNanos: UInt64) -> Bool {
        guard slots[slot].tunnels[tunnel].bucket.take(Int64(bytes), now: nowNanos) else { return false }
        slots[slot].tunnels[tunnel].lastUsedNanos = nowNanos
        slots[slot].tunnels[tunnel].frames &+= 1
        slots[slot].tunnels[tunnel].bytes &+= UInt64(bytes)
        return true
    }
}
