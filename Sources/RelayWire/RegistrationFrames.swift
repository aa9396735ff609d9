import WireGuard

public struct RegisterFrame: Equatable, Sendable {
    public static let sealedLength = 8 + RelayWire.boxOverhead
    static let keyOffset = RelayWire.headerLength
    public static let nonceOffset = keyOffset + RelayWire.keyLength
    static let sealedOffset = nonceOffset + RelayWire.nonceLength
    public static let length = sealedOffset + sealedLength
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
        guard frame.count == length, hasHeader(frame, .register), let key = readKey(frame, at: keyOffset) else { return nil }
        return RegisterFrame(clientKey: key, nonce: Array(frame[nonceOffset..<sealedOffset]), sealedTimestamp: Array(frame[sealedOffset..<length]))
    }
}

/// The 35 bytes inside a registered frame's box.
public struct RegisteredPayload: Equatable, Sendable {
    static let sessionOffset = 0
    static let echoedTimestampOffset = 8
    static let addressOffset = 16
    public static let length = addressOffset + RelayWire.addressLength
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
            guard let address = RelayAddress.decode(raw, at: addressOffset) else { return nil }
            return RegisteredPayload(sessionID: BigEndian.readU64(raw, at: sessionOffset),
                                     echoedTimestamp: BigEndian.readU64(raw, at: echoedTimestampOffset), observedAddress: address)
        }
    }
}

public struct RegisteredFrame: Equatable, Sendable {
    public static let sealedLength = RegisteredPayload.length + RelayWire.boxOverhead
    static let nonceOffset = RelayWire.headerLength
    static let sealedOffset = nonceOffset + RelayWire.nonceLength
    public static let length = sealedOffset + sealedLength
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
        return RegisteredFrame(nonce: Array(frame[nonceOffset..<sealedOffset]), sealedPayload: Array(frame[sealedOffset..<length]))
    }
}
