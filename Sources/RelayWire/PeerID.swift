import WireGuard

/// A peer's 32-byte key as the relay's tables hold it: four words loaded straight from a
/// frame. PublicKey's byte initialiser is generic and not inlinable across modules, which on
/// the forwarding path cost a generic-metadata lookup per frame; this type costs four loads.
public struct PeerID: Hashable, Sendable {
    @usableFromInline var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    public init(_ key: PublicKey) {
        (w0, w1, w2, w3) = key.withUnsafeBytes { Self.words($0, at: 0) }
    }

    /// The 32 bytes at `offset`; the caller has checked the frame is long enough.
    @inlinable @inline(__always)
    public init(_ frame: UnsafeRawBufferPointer, at offset: Int) {
        (w0, w1, w2, w3) = Self.words(frame, at: offset)
    }

    @inlinable @inline(__always)
    static func words(_ raw: UnsafeRawBufferPointer, at offset: Int) -> (UInt64, UInt64, UInt64, UInt64) {
        (raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self), raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self),
         raw.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self), raw.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self))
    }

    @inlinable @inline(__always)
    public func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        buffer.storeBytes(of: w0, toByteOffset: offset, as: UInt64.self)
        buffer.storeBytes(of: w1, toByteOffset: offset + 8, as: UInt64.self)
        buffer.storeBytes(of: w2, toByteOffset: offset + 16, as: UInt64.self)
        buffer.storeBytes(of: w3, toByteOffset: offset + 24, as: UInt64.self)
    }

    public var publicKey: PublicKey {
        let bytes = Swift.withUnsafeBytes(of: (w0, w1, w2, w3)) { Array($0) }
        // 32 bytes always make a key.
        return PublicKey(bytes: bytes)!
    }
}
