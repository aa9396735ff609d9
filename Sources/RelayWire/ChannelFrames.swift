import WireGuard

/// channel-request (0x0D), client → relay: asks for a port on which the relay takes the
/// client's own WireGuard packets for `peer`, unwrapped. channel-release (0x0F) has the same
/// layout and closes that port: the client's WireGuard no longer sends there.
public struct ChannelRequestFrame: Equatable, Sendable {
    static let peerOffset = RelayWire.headerLength
    static let sessionOffset = peerOffset + RelayWire.keyLength
    static let timestampOffset = sessionOffset + 8
    public static let length = timestampOffset + 8
    public var peer: PublicKey
    public var sessionID: UInt64
    public var timestamp: UInt64
    public var releases: Bool

    public init(peer: PublicKey, sessionID: UInt64, timestamp: UInt64, releases: Bool = false) {
        self.peer = peer
        self.sessionID = sessionID
        self.timestamp = timestamp
        self.releases = releases
    }

    public func encode() -> [UInt8] {
        var bytes = header(releases ? .channelRelease : .channelRequest, capacity: Self.length)
        appendKey(peer, to: &bytes)
        BigEndian.append(sessionID, to: &bytes)
        BigEndian.append(timestamp, to: &bytes)
        return bytes
    }

    public static func decode(_ frame: UnsafeRawBufferPointer) -> ChannelRequestFrame? {
        guard frame.count == length, let key = readKey(frame, at: peerOffset) else { return nil }
        let releases = hasHeader(frame, .channelRelease)
        guard releases || hasHeader(frame, .channelRequest) else { return nil }
        return ChannelRequestFrame(peer: key, sessionID: BigEndian.readU64(frame, at: sessionOffset), timestamp: BigEndian.readU64(frame, at: timestampOffset),
                                   releases: releases)
    }
}

/// channel-grant (0x0E), relay → client: the port for `peer`, or 0 when the relay has none to
/// give (the client keeps sending data frames). Carries the client's session id so an off-path
/// sender cannot point the client's WireGuard elsewhere.
public struct ChannelGrantFrame: Equatable, Sendable {
    static let peerOffset = RelayWire.headerLength
    static let sessionOffset = peerOffset + RelayWire.keyLength
    static let portOffset = sessionOffset + 8
    public static let length = portOffset + 2
    public var peer: PublicKey
    public var sessionID: UInt64
    public var port: UInt16

    public init(peer: PublicKey, sessionID: UInt64, port: UInt16) {
        self.peer = peer
        self.sessionID = sessionID
        self.port = port
    }

    public func encode() -> [UInt8] {
        var bytes = header(.channelGrant, capacity: Self.length)
        appendKey(peer, to: &bytes)
        BigEndian.append(sessionID, to: &bytes)
        BigEndian.append(port, to: &bytes)
        return bytes
    }

    public static func decode(_ frame: UnsafeRawBufferPointer) -> ChannelGrantFrame? {
        guard frame.count == length, hasHeader(frame, .channelGrant), let key = readKey(frame, at: peerOffset) else { return nil }
        return ChannelGrantFrame(peer: key, sessionID: BigEndian.readU64(frame, at: sessionOffset), port: BigEndian.readU16(frame, at: portOffset))
    }
}
