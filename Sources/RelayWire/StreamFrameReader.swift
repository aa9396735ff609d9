/// Splits the relay's TCP byte stream into frames (each behind a u16 big-endian length): the one
/// reader of that framing, for the relay's TCP connections and for clients. Bounded: it never
/// holds more than one maximal frame beyond what it was given, and a length of 0 or above
/// `RelayWire.maxFrame` is a protocol violation that ends the stream.
public struct StreamFrameReader: Sendable {
    public enum Failure: Error, Equatable { case badLength(Int) }

    private var buffer: [UInt8] = []
    private var start = 0

    public init() {
        buffer.reserveCapacity(4 * (RelayWire.maxFrame + StreamFrameWriter.prefixLength))
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if start > 0, start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > RelayWire.maxFrame {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Calls `frame` for each complete frame, in order; stops at the first bad length.
    public mutating func drain(_ frame: (UnsafeRawBufferPointer) -> Void) throws(Failure) {
        let prefix = StreamFrameWriter.prefixLength
        while buffer.count - start >= prefix {
            let length = buffer.withUnsafeBytes { Int(BigEndian.readU16($0, at: start)) }
            guard length > 0, length <= RelayWire.maxFrame else { throw .badLength(length) }
            guard buffer.count - start - prefix >= length else { return }
            buffer.withUnsafeBytes { raw in
                frame(UnsafeRawBufferPointer(rebasing: raw[(start + prefix)..<(start + prefix + length)]))
            }
            start += prefix + length
        }
    }

    /// Bytes received but not yet part of a complete frame.
    public var pending: Int { buffer.count - start }
}
