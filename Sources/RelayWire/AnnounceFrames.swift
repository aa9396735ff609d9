import WireGuard

/// The 35 bytes inside an announce frame's box.
public struct AnnouncePayload: Equatable, Sendable {
    static let timestampOffset = 0
    static let endpointOffset = timestampOffset + 8
    static let locationOffset = endpointOffset + RelayWire.addressLength
    public static let length = locationOffset + RelayLocation.encodedLength
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
            guard let endpoint = RelayAddress.decode(raw, at: endpointOffset) else { return nil }
            return AnnouncePayload(timestamp: BigEndian.readU64(raw, at: timestampOffset), endpoint: endpoint,
                                   location: RelayLocation.decode(raw, at: locationOffset))
        }
    }
}

public struct AnnounceFrame: Equatable, Sendable {
    public static let sealedLength = AnnouncePayload.length + RelayWire.boxOverhead
    static let keyOffset = RelayWire.headerLength
    static let nonceOffset = keyOffset + RelayWire.keyLength
    static let sealedOffset = nonceOffset + RelayWire.nonceLength
    public static let length = sealedOffset + sealedLength
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
        guard frame.count == length, hasHeader(frame, .announce), let key = readKey(frame, at: keyOffset) else { return nil }
        return AnnounceFrame(announcerKey: key, nonce: Array(frame[nonceOffset..<sealedOffset]), sealedPayload: Array(frame[sealedOffset..<length]))
    }
}
