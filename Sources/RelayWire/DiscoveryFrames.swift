import WireGuard

public struct InfoResponseFrame: Equatable, Sendable {
    static let echoOffset = RelayWire.headerLength
    static let keyOffset = echoOffset + 8
    static let capacityOffset = keyOffset + RelayWire.keyLength
    static let loadOffset = capacityOffset + 4
    static let locationOffset = loadOffset + 4
    static let versionLengthOffset = locationOffset + RelayLocation.encodedLength
    static let versionOffset = versionLengthOffset + 1
    /// With an empty version and no endpoints: the version string is followed by the endpoint count.
    public static let minimumLength = versionOffset + 1
    static let maximumLength = minimumLength + RelayWire.maxVersionStringLength + RelayWire.maxInfoEndpoints * RelayWire.addressLength
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
        var bytes = header(.infoResponse, capacity: Self.maximumLength)
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
        guard frame.count >= minimumLength, hasHeader(frame, .infoResponse), let key = readKey(frame, at: keyOffset) else { return nil }
        let versionLength = Int(frame[versionLengthOffset])
        guard versionLength <= RelayWire.maxVersionStringLength, frame.count >= minimumLength + versionLength else { return nil }
        let version = String(decoding: frame[versionOffset..<versionOffset + versionLength], as: UTF8.self)
        let countOffset = versionOffset + versionLength
        let endpointsOffset = countOffset + 1
        let count = Int(frame[countOffset])
        guard count <= RelayWire.maxInfoEndpoints, frame.count == endpointsOffset + count * RelayWire.addressLength else { return nil }
        var endpoints = [RelayAddress]()
        for index in 0..<count {
            guard let endpoint = RelayAddress.decode(frame, at: endpointsOffset + index * RelayWire.addressLength) else { return nil }
            endpoints.append(endpoint)
        }
        return InfoResponseFrame(echo: BigEndian.readU64(frame, at: echoOffset), relayKey: key,
                                 capacity: BigEndian.readU32(frame, at: capacityOffset), load: BigEndian.readU32(frame, at: loadOffset),
                                 location: RelayLocation.decode(frame, at: locationOffset), version: version, endpoints: endpoints)
    }
}

/// One relay in a discovery response.
public struct KnownRelay: Hashable, Sendable {
    static let keyOffset = 0
    static let endpointOffset = keyOffset + RelayWire.keyLength
    static let locationOffset = endpointOffset + RelayWire.addressLength
    public static let encodedLength = locationOffset + RelayLocation.encodedLength
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
    static let echoOffset = RelayWire.headerLength
    static let countOffset = echoOffset + 8
    static let entriesOffset = countOffset + 1
    /// With no entries.
    public static let minimumLength = entriesOffset
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
        let count = Int(frame[countOffset])
        guard count <= RelayWire.maxDiscoveryEntries, frame.count == minimumLength + count * KnownRelay.encodedLength else { return nil }
        var relays = [KnownRelay]()
        for index in 0..<count {
            let base = entriesOffset + index * KnownRelay.encodedLength
            guard let key = readKey(frame, at: base + KnownRelay.keyOffset),
                  let endpoint = RelayAddress.decode(frame, at: base + KnownRelay.endpointOffset) else { return nil }
            relays.append(KnownRelay(key: key, endpoint: endpoint, location: RelayLocation.decode(frame, at: base + KnownRelay.locationOffset)))
        }
        return DiscoveryResponseFrame(echo: BigEndian.readU64(frame, at: echoOffset), relays: relays)
    }
}
