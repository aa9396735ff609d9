/// Puts frames on the relay's TCP byte stream, each behind its u16 big-endian length: the one
/// writer of that framing, for the relay (into NIO's buffers, through `write(_:into:)`) and for
/// clients (which queue what the socket has not taken yet).
public struct StreamFrameWriter: Sendable {
    public static let prefixLength = 2

    /// Framed bytes the socket has not taken yet.
    public private(set) var pending: [UInt8] = []
    /// `append` refuses a frame that would make `pending` longer than this.
    public let limit: Int

    public init(limit: Int = .max) {
        self.limit = limit
    }

    /// Writes the length and `frame` at the start of `buffer`, which has room for both; returns
    /// the number of bytes written.
    @discardableResult
    public static func write(_ frame: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        precondition(frame.count <= Int(UInt16.max) && buffer.count >= prefixLength + frame.count)
        BigEndian.write(UInt16(frame.count), to: buffer, at: 0)
        UnsafeMutableRawBufferPointer(rebasing: buffer[prefixLength..<prefixLength + frame.count]).copyMemory(from: frame)
        return prefixLength + frame.count
    }

    /// Queues `frame`; false (and nothing queued) when that would pass `limit`, as a full socket
    /// buffer drops a datagram.
    @discardableResult
    public mutating func append(_ frame: UnsafeRawBufferPointer) -> Bool {
        guard pending.count + Self.prefixLength + frame.count <= limit else { return false }
        let start = pending.count
        pending.append(contentsOf: repeatElement(0, count: Self.prefixLength + frame.count))
        pending.withUnsafeMutableBytes { Self.write(frame, into: UnsafeMutableRawBufferPointer(rebasing: $0[start...])) }
        return true
    }

    /// Drops the first `count` pending bytes, which the socket took.
    public mutating func removeSent(_ count: Int) {
        pending.removeFirst(count)
    }

    public mutating func removeAll() {
        pending.removeAll(keepingCapacity: true)
    }
}
