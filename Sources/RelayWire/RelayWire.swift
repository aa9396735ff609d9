/// Constants and the two-byte header shared by every relay frame; the layouts are specified in
/// docs/relay-protocol.md and each number here is named there.
public enum RelayWire {
    public static let version: UInt8 = 0x01
    /// The two bytes every frame starts with: version, then type.
    public static let versionOffset = 0
    public static let typeOffset = 1
    public static let headerLength = 2
    public static let keyLength = 32
    public static let defaultPort: UInt16 = 51821
    /// Channel ports: a fixed range, so that a firewall can open them; as many as `maxChannels`'s default.
    public static let defaultChannelPorts: ClosedRange<UInt16> = 51822...52845
    public static let maxFrame = 2048
    public static let dataHeaderLength = 51
    public static let maxPayload = maxFrame - dataHeaderLength
    public static let paddedRequestLength = 1200
    public static let timestampWindowMillis: UInt64 = 30_000
    public static let sessionIdleMillis: UInt64 = 120_000
    public static let channelFreshMillis: UInt64 = 60_000
    public static let channelNoticeIntervalMillis: UInt64 = 1_000
    public static let nonceLength = 24
    /// A registration cookie: the first bytes of a register frame's nonce (see `CookieFrame`).
    public static let cookieLength = 16
    /// How long a client uses a cookie; the relay accepts one for 120 to 240 s.
    public static let cookieUseMillis: UInt64 = 100_000
    public static let boxOverhead = 16
    public static let addressLength = 19
    public static let maxVersionStringLength = 32
    public static let maxInfoEndpoints = 16
    public static let maxDiscoveryEntries = 16
    public static let latLonUnknown = Int32.min
}

public enum FrameType: UInt8, Sendable, CaseIterable {
    case register = 0x01
    case registered = 0x02
    case data = 0x03
    case peerUnknown = 0x04
    case ping = 0x05
    case pong = 0x06
    case error = 0x07
    case infoRequest = 0x08
    case infoResponse = 0x09
    case discoveryQuery = 0x0A
    case discoveryResponse = 0x0B
    case announce = 0x0C
    case channelRequest = 0x0D
    case channelGrant = 0x0E
    case channelRelease = 0x0F
    case cookie = 0x10
    case channelClose = 0x11

    public var name: String {
        switch self {
        case .register: "register"
        case .registered: "registered"
        case .data: "data"
        case .peerUnknown: "peer-unknown"
        case .ping: "ping"
        case .pong: "pong"
        case .error: "error"
        case .infoRequest: "info-request"
        case .infoResponse: "info-response"
        case .discoveryQuery: "discovery-query"
        case .discoveryResponse: "discovery-response"
        case .announce: "announce"
        case .channelRequest: "channel-request"
        case .channelGrant: "channel-grant"
        case .channelRelease: "channel-release"
        case .cookie: "cookie"
        case .channelClose: "channel-close"
        }
    }

    /// Reads the version and type bytes; anything else is the caller's drop reason.
    public static func classify(_ frame: UnsafeRawBufferPointer) -> Result<FrameType, DropReason> {
        guard frame.count >= RelayWire.headerLength else { return .failure(.malformed) }
        guard frame[RelayWire.versionOffset] == RelayWire.version else { return .failure(.badVersion) }
        guard let type = FrameType(rawValue: frame[RelayWire.typeOffset]) else { return .failure(.unknownType) }
        return .success(type)
    }
}

/// Big-endian integer access at fixed offsets; callers check the frame length first, which is
/// why these take no bounds arguments beyond the buffer itself.
public enum BigEndian {
    @inlinable @inline(__always)
    public static func readU64(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inlinable @inline(__always)
    public static func readU32(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inlinable @inline(__always)
    public static func readU16(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> UInt16 {
        UInt16(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inlinable @inline(__always)
    public static func write(_ value: UInt64, to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        buffer.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt64.self)
    }

    @inlinable @inline(__always)
    public static func write(_ value: UInt32, to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        buffer.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    @inlinable @inline(__always)
    public static func write(_ value: UInt16, to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        buffer.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    public static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    public static func append(_ value: UInt32, to bytes: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    public static func append(_ value: UInt16, to bytes: inout [UInt8]) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }
}
