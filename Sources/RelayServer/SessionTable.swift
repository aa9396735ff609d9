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
    /// The sender's WireGuard session indices that went through this tunnel, latest four: the
    /// destination's WireGuard proves itself on a channel by sending one of them back.
    public var senderIndices = WireGuardIndices()
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
            slots[slot].tunnels.reserveCapacity(tunnelCapacity)
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

    /// The index of the sender's tunnel to `destination`, made on first use within the limit.
    @inline(__always)
    public mutating func tunnel(from slot: Int, to destination: PeerID, limit: Int, makeBucket: () -> TokenBucket) -> TunnelAdmission {
        if let index = slots[slot].tunnels.firstIndex(where: { $0.destination == destination }) { return .admitted(index) }
        guard slots[slot].tunnels.count < limit else { return .tooMany }
        slots[slot].tunnels.append(Tunnel(destination: destination, bucket: makeBucket()))
        return .admitted(slots[slot].tunnels.count - 1)
    }

    public mutating func recordSenderIndex(_ index: UInt32, slot: Int, tunnel: Int) {
        slots[slot].tunnels[tunnel].senderIndices.record(index)
    }

    /// Whether `sender`'s WireGuard sent `index` as its own toward `destination`.
    public func sent(_ index: UInt32, from sender: PeerID, toward destination: PeerID) -> Bool {
        guard let slot = byKey[sender] else { return false }
        return slots[slot].tunnels.contains { $0.destination == destination && $0.senderIndices.contains(index) }
    }

    @inline(__always)
    public mutating func charge(slot: Int, tunnel: Int, bytes: Int, nowNanos: UInt64) -> Bool {
        guard slots[slot].tunnels[tunnel].bucket.take(Int64(bytes), now: nowNanos) else { return false }
        slots[slot].tunnels[tunnel].frames &+= 1
        slots[slot].tunnels[tunnel].bytes &+= UInt64(bytes)
        return true
    }
}
