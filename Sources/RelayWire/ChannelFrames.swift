import WireGuard

/// channel-request (0x0D), client → relay: asks for a port on which the relay takes the
/// client's own WireGuard packets for `peer`, unwrapped. channel-release (0x0F) and
/// channel-close (0x11) have the same layout: the client's WireGuard no longer sends there.
public struct ChannelRequestFrame: Equatable, Sendable {
    /// What the frame asks of the relay.
    public enum Kind: Sendable, Equatable, CaseIterable {
        /// A channel for the peer, opened or renewed.
        case request
        /// The pair's two channels closed, and the peer kept off channels there (it does not work).
        case release
        /// The sender's channel for the peer closed, nothing else (the pair no longer needs it).
        case close

        var frameType: FrameType {
            switch self {
            case .request: .channelRequest
            case .release: .channelRelease
            case .close: .channelClose
            }
        }
    }

    static let peerOffset = RelayWire.headerLength
    static let sessionOffset = peerOffset + RelayWire.keyLength
    static let timestampOffset = sessionOffset + 8
    public static let length = timestampOffset + 8
    public var peer: PublicKey
    public var sessionID: UInt64
    public var timestamp: UInt64
    public var kind: Kind

    public init(peer: PublicKey, sessionID: UInt64, timestamp: UInt64, kind: Kind = .request) {
        self.peer = peer
        self.sessionID = sessionID
        self.timestamp = timestamp
        self.kind = kind
    }

    public func encode() -> [UInt8] {
        var bytes = header(kind.frameType, capacity: Self.length)
        appendKey(peer, to: &bytes)
        BigEndian.append(sessionID, to: &bytes)
        BigEndian.append(timestamp, to: &bytes)
        return bytes
    }

    public static func decode(_ frame: UnsafeRawBufferPointer) -> ChannelRequestFrame? {
        guard frame.count == length, let key = readKey(frame, at: peerOffset),
              let kind = Kind.allCases.first(where: { hasHeader(frame, $0.frameType) }) else { return nil }
        return ChannelRequestFrame(peer: key, sessionID: BigEndian.readU64(frame, at: sessionOffset), timestamp: BigEndian.readU64(frame, at: timestampOffset),
                                   kind: kind)
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
