import RelayWire

/// Opens and closes the UDP sockets behind channels. The service's (`ChannelSockets`) binds
/// real ports and watches them; tests hand the state a fake.
public protocol ChannelPorts: AnyObject, Sendable {
    /// A new socket on a port of its own, or nil when none can be opened (out of descriptors or ports).
    func open() -> (descriptor: Int32, port: UInt16)?
    /// Closes it once no thread can still be sending on it.
    func close(_ descriptor: Int32)
}

/// One channel: a relay port on which `owner`'s WireGuard sends its packets for `peer` as they
/// are, and from which it receives `peer`'s. See "Channels" in docs/relay-protocol.md.
public struct RelayChannel: Sendable, Equatable {
    public var owner: PeerID
    public var peer: PeerID
    public var descriptor: Int32
    public var port: UInt16
    /// Where the owner's WireGuard sends from: a source that proved it with the peer's session
    /// index (see "A packet on a channel port" in docs/relay-protocol.md).
    public var learned: RelayAddress?
    public var lastPacketMillis: UInt64 = 0
    /// The last request or packet: a channel unused for `RelayWire.sessionIdleMillis` is closed.
    public var lastUseMillis: UInt64
    /// The last peer-unknown notice about this channel to the owner's agent, at most one a second.
    public var lastNoticeMillis: UInt64 = 0
    /// The last initiation from the owner's address that is not the learned one: its source
    /// becomes the learned address when the peer's response names its index.
    public var pending: PendingInitiation?
    /// Sources other than the learned one whose index was checked in the current second: an
    /// index is 32 random bits, and guessing at the frame rate would find one within hours.
    private var proofsThisSecond = 0
    private var proofSecond: UInt64 = 0
    public static let proofsPerSecond = 10

    public init(owner: PeerID, peer: PeerID, descriptor: Int32, port: UInt16, lastUseMillis: UInt64) {
        self.owner = owner
        self.peer = peer
        self.descriptor = descriptor
        self.port = port
        self.lastUseMillis = lastUseMillis
    }

    /// Whether one more source may have its index checked now; counts it.
    public mutating func allowsProof(nowMillis: UInt64) -> Bool {
        let second = nowMillis / 1000
        if second != proofSecond {
            proofSecond = second
            proofsThisSecond = 0
        }
        guard proofsThisSecond < Self.proofsPerSecond else { return false }
        proofsThisSecond += 1
        return true
    }

    public struct PendingInitiation: Sendable, Equatable {
        public var source: RelayAddress
        public var index: UInt32

        public init(source: RelayAddress, index: UInt32) {
            self.source = source
            self.index = index
        }
    }

    /// Packets for the owner go out of this channel only while its WireGuard has sent from the
    /// learned address recently; after that the owner's NAT may have forgotten the mapping, and
    /// data frames through its registration reach it instead.
    public func deliversRaw(nowMillis: UInt64) -> RelayAddress? {
        guard let learned, nowMillis &- lastPacketMillis <= RelayWire.channelFreshMillis else { return nil }
        return learned
    }
}

/// The relay's channels, found by descriptor (each packet on a channel port) and by
/// (owner, peer) (each packet for an owner, and each request).
public struct ChannelTable: Sendable {
    private struct Pair: Hashable {
        var owner: PeerID
        var peer: PeerID
    }

    public private(set) var byDescriptor: [Int32: RelayChannel] = [:]
    private var byPair: [Pair: Int32] = [:]
    private var byOwner: [PeerID: Int] = [:]

    public init() {}

    public var count: Int { byDescriptor.count }

    /// How many channels `owner` holds.
    public func count(owner: PeerID) -> Int { byOwner[owner, default: 0] }

    @inline(__always)
    public subscript(descriptor: Int32) -> RelayChannel? { byDescriptor[descriptor] }

    @inline(__always)
    public func descriptor(owner: PeerID, peer: PeerID) -> Int32? { byPair[Pair(owner: owner, peer: peer)] }

    mutating func insert(_ channel: RelayChannel) {
        if byDescriptor.updateValue(channel, forKey: channel.descriptor) == nil { byOwner[channel.owner, default: 0] += 1 }
        byPair[Pair(owner: channel.owner, peer: channel.peer)] = channel.descriptor
    }

    @inline(__always)
    mutating func update(_ descriptor: Int32, _ body: (inout RelayChannel) -> Void) {
        guard var channel = byDescriptor[descriptor] else { return }
        body(&channel)
        byDescriptor[descriptor] = channel
    }

    /// Forgets where `owner`'s WireGuard sends from. Called when the owner registers anew: its
    /// agent restarted or its NAT moved it, so the old address may lead nowhere, and until its
    /// WireGuard uses the channel again data frames through the new registration reach it.
    mutating func forgetLearned(owner: PeerID) {
        for (descriptor, channel) in byDescriptor where channel.owner == owner && (channel.learned != nil || channel.pending != nil) {
            byDescriptor[descriptor]?.learned = nil
            byDescriptor[descriptor]?.pending = nil
        }
    }

    /// Removes every channel `shouldRemove` names and returns them.
    mutating func removeAll(where shouldRemove: (RelayChannel) -> Bool) -> [RelayChannel] {
        let doomed = byDescriptor.values.filter(shouldRemove)
        for channel in doomed {
            byDescriptor[channel.descriptor] = nil
            byPair[Pair(owner: channel.owner, peer: channel.peer)] = nil
            let held = byOwner[channel.owner, default: 1] - 1
            byOwner[channel.owner] = held > 0 ? held : nil
        }
        return doomed
    }
}
