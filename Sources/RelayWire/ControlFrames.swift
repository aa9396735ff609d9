import WireGuard

public struct PeerUnknownFrame: Equatable, Sendable {
    static let peerOffset = RelayWire.headerLength
    public static let length = peerOffset + RelayWire.keyLength
    public var peer: PublicKey

    public init(peer: PublicKey) { self.peer = peer }

    public func encode() -> [UInt8] {
        var bytes = header(.peerUnknown, capacity: Self.length)
        appendKey(peer, to: &bytes)
        return bytes
    }

    public static func decode(_ frame: UnsafeRawBufferPointer) -> PeerUnknownFrame? {
        guard frame.count == length, hasHeader(frame, .peerUnknown), let key = readKey(frame, at: peerOffset) else { return nil }
        return PeerUnknownFrame(peer: key)
    }
}

/// Ping and pong share one layout; `type` says which.
public struct EchoFrame: Equatable, Sendable {
    static let sessionOffset = RelayWire.headerLength
    static let echoOffset = sessionOffset + 8
    public static let length = echoOffset + 8
    public var type: FrameType
    public var sessionID: UInt64
    public var echo: UInt64

    public static func ping(sessionID: UInt64, echo: UInt64) -> EchoFrame { EchoFrame(type: .ping, sessionID: sessionID, echo: echo) }
    public static func pong(sessionID: UInt64, echo: UInt64) -> EchoFrame { EchoFrame(type: .pong, sessionID: sessionID, echo: echo) }

    public func encode() -> [UInt8] {
        var bytes = header(type, capacity: Self.length)
        BigEndian.append(sessionID, to: &bytes)
        BigEndian.append(echo, to: &bytes)
        return bytes
    }

    public static func decode(_ frame: UnsafeRawBufferPointer, as type: FrameType) -> EchoFrame? {
        guard type == .ping || type == .pong, frame.count == length, hasHeader(frame, type) else { return nil }
        return EchoFrame(type: type, sessionID: BigEndian.readU64(frame, at: sessionOffset), echo: BigEndian.readU64(frame, at: echoOffset))
    }
}

public enum RelayErrorCode: UInt8, Sendable {
    case staleTimestamp = 1
    case notAllowed = 2
    case relayFull = 3
    case tooManyTunnels = 4
}

public struct ErrorFrame: Equatable, Sendable {
    static let codeOffset = RelayWire.headerLength
    static let relayClockOffset = codeOffset + 1
    public static let length = relayClockOffset + 8
    public var code: RelayErrorCode
    public var relayClockMillis: UInt64

    public init(code: RelayErrorCode, relayClockMillis: UInt64) {
        self.code = code
        self.relayClockMillis = relayClockMillis
    }

    public func encode() -> [UInt8] {
        var bytes = header(.error, capacity: Self.length)
        bytes.append(code.rawValue)
        BigEndian.append(relayClockMillis, to: &bytes)
        return bytes
    }

    public static func decode(_ frame: UnsafeRawBufferPointer) -> ErrorFrame? {
        guard frame.count == length, hasHeader(frame, .error), let code = RelayErrorCode(rawValue: frame[codeOffset]) else { return nil }
        return ErrorFrame(code: code, relayClockMillis: BigEndian.readU64(frame, at: relayClockOffset))
    }
}

/// Info requests and discovery queries: an echo value padded with zeros to 1200 bytes so that
/// their answers never exceed what a spoofed request cost.
public struct PaddedRequestFrame: Equatable, Sendable {
    static let echoOffset = RelayWire.headerLength
    public var type: FrameType
    public var echo: UInt64

    public static func infoRequest(echo: UInt64) -> PaddedRequestFrame { PaddedRequestFrame(type: .infoRequest, echo: echo) }
    public static func discoveryQuery(echo: UInt64) -> PaddedRequestFrame { PaddedRequestFrame(type: .discoveryQuery, echo: echo) }

    public func encode() -> [UInt8] {
        var bytes = header(type, capacity: RelayWire.paddedRequestLength)
        BigEndian.append(echo, to: &bytes)
        bytes.append(contentsOf: repeatElement(0, count: RelayWire.paddedRequestLength - bytes.count))
        return bytes
    }

    public static func decode(_ frame: UnsafeRawBufferPointer, as type: FrameType) -> PaddedRequestFrame? {
        guard type == .infoRequest || type == .discoveryQuery,
              frame.count == RelayWire.paddedRequestLength, hasHeader(frame, type) else { return nil }
        return PaddedRequestFrame(type: type, echo: BigEndian.readU64(frame, at: echoOffset))
    }
}
