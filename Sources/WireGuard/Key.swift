import CSodium
import Foundation

/// A 32-byte WireGuard key as it appears on the wire and in `wg` output.
///
/// Public keys are stored inline (four words, no heap) because relays and the agent keep
/// tables keyed by them; secret keys live in `SecretKeyStorage`, which is zeroed when freed.
public struct PublicKey: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 32
    private var words: (UInt64, UInt64, UInt64, UInt64)

    public init?<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        guard bytes.count == Self.byteCount else { return nil }
        words = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &words) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
    }

    public init?(base64: String) {
        guard let bytes = KeyEncoding.decodeBase64(base64) else { return nil }
        self.init(bytes: bytes)
    }

    public init?(hex: String) {
        guard let bytes = KeyEncoding.decodeHex(hex) else { return nil }
        self.init(bytes: bytes)
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: words, body)
    }

    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
    public var base64: String { withUnsafeBytes { KeyEncoding.base64($0) } }
    public var hex: String { withUnsafeBytes { KeyEncoding.hex($0) } }
    public var description: String { base64 }

    public static func == (a: PublicKey, b: PublicKey) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}

/// Heap storage for secret key material: one allocation, zeroed with `sodium_memzero` on free,
/// so a key does not linger in memory after the last copy of the key value goes away.
final class SecretKeyStorage: @unchecked Sendable {
    // Written only in init; read-only afterwards, which is what makes the Sendable claim hold.
    let pointer: UnsafeMutableRawBufferPointer

    init(copying bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == PublicKey.byteCount)
        pointer = .allocate(byteCount: bytes.count, alignment: 8)
        pointer.copyMemory(from: bytes)
    }

    init(initializingWith body: (UnsafeMutableRawBufferPointer) -> Void) {
        pointer = .allocate(byteCount: PublicKey.byteCount, alignment: 8)
        body(pointer)
    }

    deinit {
        sodium_memzero(pointer.baseAddress!, pointer.count)
        pointer.deallocate()
    }

    func constantTimeEquals(_ other: SecretKeyStorage) -> Bool {
        sodium_memcmp(pointer.baseAddress!, other.pointer.baseAddress!, pointer.count) == 0
    }
}

/// An X25519 private key, clamped as `wg genkey` clamps it.
public struct PrivateKey: Sendable, Equatable {
    let storage: SecretKeyStorage

    /// A fresh key from libsodium's CSPRNG.
    public static func generate() -> PrivateKey {
        Sodium.ensureInitialized()
        return PrivateKey(storage: SecretKeyStorage { buffer in
            randombytes_buf(buffer.baseAddress!, buffer.count)
            Self.clamp(buffer)
        })
    }

    /// Takes the bytes as given; like `wg`, an unclamped key is accepted (X25519 clamps anyway).
    public init?<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        guard bytes.count == PublicKey.byteCount else { return nil }
        let array = Array(bytes)
        storage = array.withUnsafeBytes { SecretKeyStorage(copying: $0) }
    }

    public init?(base64: String) {
        guard var bytes = KeyEncoding.decodeBase64(base64) else { return nil }
        defer { Sodium.zero(&bytes) }
        self.init(bytes: bytes)
    }

    public init?(hex: String) {
        guard var bytes = KeyEncoding.decodeHex(hex) else { return nil }
        defer { Sodium.zero(&bytes) }
        self.init(bytes: bytes)
    }

    init(storage: SecretKeyStorage) { self.storage = storage }

    static func clamp(_ key: UnsafeMutableRawBufferPointer) {
        key[0] &= 248
        key[31] = (key[31] & 127) | 64
    }

    public var publicKey: PublicKey {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: PublicKey.byteCount)
        _ = crypto_scalarmult_base(&out, storage.pointer.baseAddress!.assumingMemoryBound(to: UInt8.self))
        return PublicKey(bytes: out)!
    }

    /// X25519(self, peer). Nil when the result is all zeros (a low-order peer point).
    public func sharedSecret(with peer: PublicKey) -> [UInt8]? {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: PublicKey.byteCount)
        let rc = peer.withUnsafeBytes { p in
            crypto_scalarmult(&out, storage.pointer.baseAddress!.assumingMemoryBound(to: UInt8.self),
                              p.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return rc == 0 ? out : nil
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(storage.pointer))
    }

    public var base64: String { withUnsafeBytes { KeyEncoding.base64($0) } }
    public var hex: String { withUnsafeBytes { KeyEncoding.hex($0) } }

    public static func == (a: PrivateKey, b: PrivateKey) -> Bool {
        a.storage.constantTimeEquals(b.storage)
    }
}

/// A WireGuard preshared key: 32 random bytes, compared in constant time.
public struct PresharedKey: Sendable, Equatable {
    let storage: SecretKeyStorage

    public static func generate() -> PresharedKey {
        Sodium.ensureInitialized()
        return PresharedKey(storage: SecretKeyStorage { randombytes_buf($0.baseAddress!, $0.count) })
    }

    init(storage: SecretKeyStorage) { self.storage = storage }

    public init?<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        guard bytes.count == PublicKey.byteCount else { return nil }
        storage = Array(bytes).withUnsafeBytes { SecretKeyStorage(copying: $0) }
    }

    public init?(base64: String) {
        guard var bytes = KeyEncoding.decodeBase64(base64) else { return nil }
        defer { Sodium.zero(&bytes) }
        self.init(bytes: bytes)
    }

    public init?(hex: String) {
        guard var bytes = KeyEncoding.decodeHex(hex) else { return nil }
        defer { Sodium.zero(&bytes) }
        self.init(bytes: bytes)
    }

    public var isZero: Bool { storage.pointer.allSatisfy { $0 == 0 } }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(storage.pointer))
    }

    public var base64: String { withUnsafeBytes { KeyEncoding.base64($0) } }
    public var hex: String { withUnsafeBytes { KeyEncoding.hex($0) } }

    public static func == (a: PresharedKey, b: PresharedKey) -> Bool {
        a.storage.constantTimeEquals(b.storage)
    }
}
