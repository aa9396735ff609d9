import WireGuard

// Each frame of docs/relay-protocol.md as a value: `encode()` gives the exact bytes of the
// layout there, `decode` takes a whole frame and returns nil unless its length and type are
// exactly what the layout allows. Data frames are handled in place by DataFrameHeader instead,
// because they are the hot path. Offsets are named after the fields of the layouts.

func header(_ type: FrameType, capacity: Int) -> [UInt8] {
    var bytes = [UInt8]()
    bytes.reserveCapacity(capacity)
    bytes.append(RelayWire.version)
    bytes.append(type.rawValue)
    return bytes
}

func hasHeader(_ frame: UnsafeRawBufferPointer, _ type: FrameType) -> Bool {
    frame.count >= RelayWire.headerLength && frame[RelayWire.versionOffset] == RelayWire.version
        && frame[RelayWire.typeOffset] == type.rawValue
}

func readKey(_ frame: UnsafeRawBufferPointer, at offset: Int) -> PublicKey? {
    PublicKey(bytes: UnsafeRawBufferPointer(rebasing: frame[offset..<offset + RelayWire.keyLength]))
}

func appendKey(_ key: PublicKey, to bytes: inout [UInt8]) {
    key.withUnsafeBytes { bytes.append(contentsOf: $0) }
}
