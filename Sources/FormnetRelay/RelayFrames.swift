import Foundation
import WireGuard

// Each frame of docs/relay-protocol.md as a value: `encode()` gives the exact bytes of the
// layout there, `decode` takes a whole frame and returns nil unless its length and type are
// exactly what the layout allows. Data frames are handled in place by DataFrameHeader instead,
// because they are the hot path.

private func header(_ type: FrameType, capacity: Int) -> [UInt8] {
    var bytes = [UInt8]()
    bytes.reserveCapacity(capacity)
    bytes.append(RelayWire.version)
    bytes.append(type.rawValue)
    return bytes
}

private func hasHeader(_ frame: UnsafeRawBufferPointer, _ type: FrameType) -> Bool {
    frame.count >= 2 && frame[0] == RelayWire.version && frame[1] == type.rawValue
}

private func readKey(_ frame: UnsafeRawBufferPointer, at offset: Int) -> PublicKey? {
    PublicKey(bytes: UnsafeRawBufferPointer(rebasing: frame[offset..<offset + PublicKey.byteCount]))
}

private func appendKey(_ key: PublicKey, to bytes: inout [UInt8]) {
    key.withUnsafeBytes { bytes.append(contentsOf: $0) }
}

/// Coordinates in microdegrees, as carried on the wire; `Int32.min` means unknown.
public struct RelayLocation: Hashable, Sendable {
    public var latitudeMicrodegrees: Int32
    public var longitudeMicrodegrees: Int32

    public static let unknown = RelayLocation(latitudeMicrodegrees: RelayWire.latLonUnknown, longitudeMicrodegrees: RelayWire.latLonUnknown)

    public init(latitudeMicrodegrees: Int32, longitudeMicrodegrees: Int32) {
        self.latitudeMicrodegrees = latitudeMicrodegrees
        self.longitudeMicrodegrees = longitudeMicrodegrees
    }

    /// "48.85,2.35"; nil when not two numbers within ±90 and ±180.
    public init?(parsing text: String) {
        let parts = text.split(separator: ",")
        guard parts.count == 2,
              let lat = Double(parts[0].trimmingCharacters(in: .whitespaces)),
              let lon = Double(parts[1].trimmingCharacters(in: .whitespaces)),
              (-90...90).contains(lat), (-180...180).contains(lon) else { return nil }
        self.init(latitudeMicrodegrees: Int32(lat * 1_000_000), longitudeMicrodegrees: Int32(lon * 1_000_000))
    }

    public var isKnown: Bool { latitudeMicrodegrees != RelayWire.latLonUnknown && longitudeMicrodegrees != RelayWire.latLonUnknown }

    func encode(into bytes: inout [UInt8]) {
        BigEndian.append(UInt32(bitPattern: latitudeMicrodegrees), to: &bytes)
        BigEndian.append(UInt32(bitPattern: longitudeMicrodegrees), to: &bytes)
    }

    static func decode(_ frame: UnsafeRawBufferPointer, at offset: Int) -> RelayLocation {
        RelayLocation(latitudeMicrodegrees: Int32(bitPattern: BigEndian.readU32(frame, at: offset)),
                      longitudeMicrodegrees: Int32(bitPattern: BigEndian.readU32(frame, at: offset + 4)))
    }
}

// MARK: registration

public struct RegisterFrame: Equatable, Sendable {
    public static let length = 82
    public static let sealedLength = 8 + RelayWire.boxOverhead
    public var clientKey: PublicKey
    public var nonce: [UInt8]
    public var sealedTimestamp: [UInt8]

    public init(clientKey: PublicKey, nonce: [UInt8], sealedTimestamp: [UInt8]) {
        self.clientKey = clientKey
        self.nonce = nonce
        self.sealedTimestamp = sealedTimestamp
    }

    public func encode() -> [UInt8] {
        var bytes = header(.register, capacity: Self.length)
        appendKey(clientKey, to: &bytes)
        bytes.append(contentsOf: nonce)
        bytes.append(contentsOf: sealedTimestamp)
        return bytes
    }

    public static func decode(_ frame: UnsafeRawBufferPointer) -> RegisterFrame? {
        guard frame.count == length, hasHeader(frame, .register), let key = readKey(frame, at: 2) else { return nil }
        return RegisterFrame(clientKey: key, nonce: Array(frame[34..<58]), sealedTimestamp: Array(frame[58..<82]))
    }
}

/// The 35 bytes inside a registered frame's box.
public struct RegisteredPayload: Equatable, Sendable {
    public static let length = 35
    public var sessionID: UInt64
    public var echoedTimestamp: UInt64
    public var observedAddress: RelayAddress

    public init(sessionID: UInt64, echoedTimestamp: UInt64, observedAddress: RelayAddress) {
        self.sessionID = sessionID
        self.echoedTimestamp = echoedTimestamp
        self.observedAddress = observedAddress
    }

    public func encode() -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(Self.length)
        BigEndian.append(sessionID, to: &bytes)
        BigEndian.append(echoedTimestamp, to: &bytes)
        observedAddress.encode(into: &bytes)
        return bytes
    }

    public static func decode(_ bytes: [UInt8]) -> RegisteredPayload? {
        guard bytes.count == length else { return nil }
        return bytes.withUnsafeBytes { raw in
            guard let address = RelayAddress.decode(raw, at: 16) else { return nil }
            return RegisteredPayload(sessionID: BigEndian.readU64(raw, at: 0), echoedTimestamp: BigEndian.readU64(raw, at: 8), observedAddress: address)
        }
    }
}

public struct RegisteredFrame: Equatable, Sendable {
    public static let length = 77
    public static let sealedLength = RegisteredPayload.length + RelayWire.boxOverhead
    public var nonce: [UInt8]
    public var sealedPayload: [UInt8]

    public init(nonce: [UInt8], sealedPayload: [UInt8]) {
        self.nonce = nonce
        self.sealedPayload = sealedPayload
    }

    public func encode() -> [UInt8] {
        var bytes = header(.registered, capacity: Self.length)
        bytes.append(contentsOf: nonce)
        bytes.append(contentsOf: sealedPayload)
        return bytes
    }

    public static func decode(_ frame: UnsafeRawBufferPointer) -> RegisteredFrame? {
        guard frame.count == length, hasHeader(frame, .registered) else { return nil }
        return RegisteredFrame(nonce: Array(frame[2..<26]), sealedPayload: Array(frame[26..<77]))
    }
}

// MARK: small control frames

public struct PeerUnknownFrame: Equatable, Sendable {
    public static let length = 34
    public var peer: PublicKey

    public init(peer: PublicKey) { self.peer = peer }

    public func encode() -> [UInt8] {
        var bytes = header(.peerUnknown, capacity: Self.length)
        appendKey(peer, to: &bytes)
        return bytes
    }

    public static func decode(_ frame: UnsafeRawBufferPointer) -> PeerUnknownFrame? {
        guard frame.count == length, hasHeader(frame, .peerUnknown), let key = readKey(frame, at: 2) else { return nil }
        return PeerUnknownFrame(peer: key)
    }
}

/// Ping and pong share one layout; `type` says which.
public struct EchoFrame: Equatable, Sendable {
    public static let length = 18
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
        return EchoFrame(type: type, sessionID: BigEndian.readU64(frame, at: 2), echo: BigEndian.readU64(frame, at: 10))
    }
}

public enum RelayErrorCode: UInt8, Sendable {
    case staleTimestamp = 1
    case notAllowed = 2
    case relayFull = 3
    case tooManyTunnels = 4
}

public struct ErrorFrame: Equatable, Sendable {
    public static let length = 11
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
        guard frame.count == length, hasHeader(frame, .error), let code = RelayErrorCode(rawValue: frame[2]) else { return nil }
        return ErrorFrame(code: code, relayClockMillis: BigEndian.readU64(frame, at: 3))
    }
}

/// Info requests and discovery queries: an echo value padded with zeros to 1200 bytes so that
/// their answers never exceed what a spoofed request cost.
public struct PaddedRequestFrame: Equatable, Sendable {
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
        return PaddedRequestFrame(type: type, echo: BigEndian.readU64(frame, at: 2))
    }
}

public struct InfoResponseFrame: Equatable, Sendable {
    public static let minimumLength = 60
    public var echo: UInt64
    public var relayKey: PublicKey
    public var capacity: UInt32
    public var load: UInt32
    public var location: RelayLocation
    public var version: String
    public var endpoints: [RelayAddress]

    public init(echo: UInt64, relayKey: PublicKey, capacity: UInt32, load: UInt32, location: RelayLocation, version: String, endpoints: [RelayAddress]) {
        self.echo = echo
        self.relayKey = relayKey
        self.capacity = capacity
        self.load = load
        self.location = location
        self.version = version
        self.endpoints = endpoints
    }

    /// Version strings longer than 32 bytes and endpoints past 16 are cut, as the layout bounds them.
    public func encode() -> [UInt8] {
        var bytes = header(.infoResponse, capacity: 396)
        BigEndian.append(echo, to: &bytes)
        appendKey(relayKey, to: &bytes)
        BigEndian.append(capacity, to: &bytes)
        BigEndian.append(load, to: &bytes)
        location.encode(into: &bytes)
        let versionBytes = Array(version.utf8.prefix(RelayWire.maxVersionStringLength))
        bytes.append(UInt8(versionBytes.count))
        bytes.append(contentsOf: versionBytes)
        let listed = endpoints.prefix(RelayWire.maxInfoEndpoints)
        bytes.append(UInt8(listed.count))
        for endpoint in listed { endpoint.encode(into: &bytes) }
        return bytes
    }

    public static func decode(_ frame: UnsafeRawBufferPointer) -> InfoResponseFrame? {
        guard frame.count >= minimumLength, hasHeader(frame, .infoResponse), let key = readKey(frame, at: 10) else { return nil }
        let versionLength = Int(frame[58])
        guard versionLength <= RelayWire.maxVersionStringLength, frame.count >= 60 + versionLength else { return nil }
        let version = String(decoding: frame[59..<59 + versionLength], as: UTF8.self)
        let count = Int(frame[59 + versionLength])
        guard count <= RelayWire.maxInfoEndpoints, frame.count == 60 + versionLength + count * RelayWire.addressLength else { return nil }
        var endpoints = [RelayAddress]()
        for index in 0..<count {
            guard let endpoint = RelayAddress.decode(frame, at: 60 + versionLength + index * RelayWire.addressLength) else { return nil }
            endpoints.append(endpoint)
        }
        return InfoResponseFrame(echo: BigEndian.readU64(frame, at: 2), relayKey: key,
                                 capacity: BigEndian.readU32(frame, at: 42), load: BigEndian.readU32(frame, at: 46),
                                 location: RelayLocation.decode(frame, at: 50), version: version, endpoints: endpoints)
    }
}

/// One relay in a discovery response.
public struct KnownRelay: Hashable, Sendable {
    public static let encodedLength = 59
    public var key: PublicKey
    public var endpoint: RelayAddress
    public var location: RelayLocation

    public init(key: PublicKey, endpoint: RelayAddress, location: RelayLocation) {
        self.key = key
        self.endpoint = endpoint
        self.location = location
    }
}

public struct DiscoveryResponseFrame: Equatable, Sendable {
    public static let minimumLength = 11
    public var echo: UInt64
    public var relays: [KnownRelay]

    public init(echo: UInt64, relays: [KnownRelay]) {
        self.echo = echo
        self.relays = relays
    }

    public func encode() -> [UInt8] {
        let listed = relays.prefix(RelayWire.maxDiscoveryEntries)
        var bytes = header(.discoveryResponse, capacity: Self.minimumLength + listed.count * KnownRelay.encodedLength)
        BigEndian.append(echo, to: &bytes)
        bytes.append(UInt8(listed.count))
        for relay in listed {
            appendKey(relay.key, to: &bytes)
            relay.endpoint.encode(into: &bytes)
            relay.location.encode(into: &bytes)
        }
        return bytes
    }

    public static func decode(_ frame: UnsafeRawBufferPointer) -> DiscoveryResponseFrame? {
        guard frame.count >= minimumLength, hasHeader(frame, .discoveryResponse) else { return nil }
        let count = Int(frame[10])
        guard count <= RelayWire.maxDiscoveryEntries, frame.count == minimumLength + count * KnownRelay.encodedLength else { return nil }
        var relays = [KnownRelay]()
        for index in 0..<count {
            let base = minimumLength + index * KnownRelay.encodedLength
            guard let key = readKey(frame, at: base), let endpoint = RelayAddress.decode(frame, at: base + 32) else { return nil }
            relays.append(KnownRelay(key: key, endpoint: endpoint, location: RelayLocation.decode(frame, at: base + 51)))
        }
        return DiscoveryResponseFrame(echo: BigEndian.readU64(frame, at: 2), relays: relays)
    }
}

// MARK: announce

/// The 35 bytes inside an announce frame's box.
public struct AnnouncePayload: Equatable, Sendable {
    public static let length = 35
    public var timestamp: UInt64
    public var endpoint: RelayAddress
    public var location: RelayLocation

    public init(timestamp: UInt64, endpoint: RelayAddress, location: RelayLocation) {
        self.timestamp = timestamp
        self.endpoint = endpoint
        self.location = location
    }

    public func encode() -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(Self.length)
        BigEndian.append(timestamp, to: &bytes)
        endpoint.encode(into: &bytes)
        location.encode(into: &bytes)
        return bytes
    }

    public static func decode(_ bytes: [UInt8]) -> AnnouncePayload? {
        guard bytes.count == length else { return nil }
        return bytes.withUnsafeBytes { raw in
            guard let endpoint = RelayAddress.decode(raw, at: 8) else { return nil }
            return AnnouncePayload(timestamp: BigEndian.readU64(raw, at: 0), endpoint: endpoint, location: RelayLocation.decode(raw, at: 27))
        }
    }
}

public struct AnnounceFrame: Equatable, Sendable {
    public static let length = 109
    public static let sealedLength = AnnouncePayload.length + RelayWire.boxOverhead
    public var announcerKey: PublicKey
    public var nonce: [UInt8]
    public var sealedPayload: [UInt8]

    public init(announcerKey: PublicKey, nonce: [UInt8], sealedPayload: [UInt8]) {
        self.announcerKey = announcerKey
        self.nonce = nonce
        self.sealedPayload = sealedPayload
    }

    public func encode() -> [UInt8] {
        var bytes = header(.announce, capacity: Self.length)
        appendKey(announcerKey, to: &bytes)
        bytes.append(contentsOf: nonce)
        bytes.append(contentsOf: sealedPayload)
        return bytes
    }

    public static func decode(_ frame: UnsafeRawBufferPointer) -> AnnounceFrame? {
        guard frame.count == length, hasHeader(frame, .announce), let key = readKey(frame, at: 2) else { return nil }
        return AnnounceFrame(announcerKey: key, nonce: Array(frame[34..<58]), sealedPayload: Array(frame[58..<109]))
    }
}

// MARK: channels

/// channel-request (0x0D), client → relay: asks for a port on which the relay takes the
/// client's own WireGuard packets for `peer`, unwrapped. channel-release (0x0F) has the same
/// layout and closes that port: the client's WireGuard no longer sends there.
public struct ChannelRequestFrame: Equatable, Sendable {
    public static let length = 50
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
        guard frame.count == length, let key = readKey(frame, at: 2) else { return nil }
        let releases = hasHeader(frame, .channelRelease)
        guard releases || hasHeader(frame, .channelRequest) else { return nil }
        return ChannelRequestFrame(peer: key, sessionID: BigEndian.readU64(frame, at: 34), timestamp: BigEndian.readU64(frame, at: 42),
                                   releases: releases)
    }
}

/// channel-grant (0x0E), relay → client: the port for `peer`, or 0 when the relay has none to
/// give (the client keeps sending data frames). Carries the client's session id so an off-path
/// sender cannot point the client's WireGuard elsewhere.
public struct ChannelGrantFrame: Equatable, Sendable {
    public static let length = 44
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
        guard frame.count == length, hasHeader(frame, .channelGrant), let key = readKey(frame, at: 2) else { return nil }
        return ChannelGrantFrame(peer: key, sessionID: BigEndian.readU64(frame, at: 34), port: BigEndian.readU16(frame, at: 42))
    }
}
