import WireGuard

/// The 51-byte data header, read and rewritten in place: the relay forwards a data frame from
/// the buffer it arrived in, and the agent's proxy wraps a WireGuard packet the same way.
public struct DataFrameHeader: Equatable, Sendable {
    public static let length = RelayWire.dataHeaderLength
    public static let peerOffset = RelayWire.headerLength
    public static let sessionOffset = peerOffset + RelayWire.keyLength
    public static let timestampOffset = sessionOffset + 8
    public static let flagsOffset = timestampOffset + 8

    /// Destination key from a client, source key from the relay.
    public var peer: PublicKey
    /// The sender's session id from a client; the receiver's from the relay.
    public var sessionID: UInt64
    public var timestamp: UInt64
    public var flags: UInt8

    public init(peer: PublicKey, sessionID: UInt64, timestamp: UInt64, flags: UInt8 = 0) {
        self.peer = peer
        self.sessionID = sessionID
        self.timestamp = timestamp
        self.flags = flags
    }

    /// Nil unless the frame is a well-formed data frame with a 1…1997-byte payload.
    public static func decode(_ frame: UnsafeRawBufferPointer) -> DataFrameHeader? {
        guard isWellFormed(frame),
              let peer = PublicKey(bytes: UnsafeRawBufferPointer(rebasing: frame[peerOffset..<sessionOffset])) else { return nil }
        return DataFrameHeader(peer: peer, sessionID: BigEndian.readU64(frame, at: sessionOffset),
                               timestamp: BigEndian.readU64(frame, at: timestampOffset), flags: frame[flagsOffset])
    }

    @inlinable @inline(__always)
    public static func isWellFormed(_ frame: UnsafeRawBufferPointer) -> Bool {
        frame.count > length && frame.count <= RelayWire.maxFrame
            && frame[RelayWire.versionOffset] == RelayWire.version && frame[RelayWire.typeOffset] == FrameType.data.rawValue
    }

    /// Writes the header into the first 51 bytes of `buffer`.
    public func write(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= Self.length)
        buffer[RelayWire.versionOffset] = RelayWire.version
        buffer[RelayWire.typeOffset] = FrameType.data.rawValue
        peer.withUnsafeBytes { key in
            UnsafeMutableRawBufferPointer(rebasing: buffer[Self.peerOffset..<Self.sessionOffset]).copyMemory(from: key)
        }
        BigEndian.write(sessionID, to: buffer, at: Self.sessionOffset)
        BigEndian.write(timestamp, to: buffer, at: Self.timestampOffset)
        buffer[Self.flagsOffset] = flags
    }

    /// A whole data frame: this header followed by `payload`.
    public func wrap<Payload: Collection>(_ payload: Payload) -> [UInt8] where Payload.Element == UInt8 {
        var frame = [UInt8](repeating: 0, count: Self.length)
        frame.withUnsafeMutableBytes { write(into: $0) }
        frame.append(contentsOf: payload)
        return frame
    }

    /// The header and the payload's range within `frame`; nil if the frame is not a data frame.
    public static func unwrap(_ frame: UnsafeRawBufferPointer) -> (header: DataFrameHeader, payload: Range<Int>)? {
        guard let header = decode(frame) else { return nil }
        return (header, length..<frame.count)
    }
}
