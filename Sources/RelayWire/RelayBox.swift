import CSodium
import WireGuard

/// libsodium `crypto_box_easy` between two X25519 keys, which proves identities at registration
/// and announcement, and a keyed BLAKE2b for registration cookies: the only cryptography the
/// relay does. Data frames are WireGuard's own.
public enum RelayBox {
    private static let initialized: Bool = sodium_init() >= 0

    public static func seal(_ plaintext: [UInt8], nonce: [UInt8], to recipient: PublicKey, from sender: PrivateKey) -> [UInt8] {
        precondition(initialized && nonce.count == RelayWire.nonceLength)
        var sealed = [UInt8](repeating: 0, count: plaintext.count + RelayWire.boxOverhead)
        let rc = recipient.withUnsafeBytes { pk in
            sender.withUnsafeBytes { sk in
                crypto_box_easy(&sealed, plaintext, UInt64(plaintext.count), nonce,
                                bytes(pk), bytes(sk))
            }
        }
        precondition(rc == 0, "crypto_box_easy failed")
        return sealed
    }

    /// The plaintext, or nil when the box was not made by `sender` for `recipient` with this nonce.
    public static func open(_ sealed: [UInt8], nonce: [UInt8], from sender: PublicKey, to recipient: PrivateKey) -> [UInt8]? {
        precondition(initialized)
        guard nonce.count == RelayWire.nonceLength, sealed.count >= RelayWire.boxOverhead else { return nil }
        var plaintext = [UInt8](repeating: 0, count: sealed.count - RelayWire.boxOverhead)
        let rc = sender.withUnsafeBytes { pk in
            recipient.withUnsafeBytes { sk in
                crypto_box_open_easy(&plaintext, sealed, UInt64(sealed.count), nonce,
                                     bytes(pk), bytes(sk))
            }
        }
        return rc == 0 ? plaintext : nil
    }

    /// Key buffers are always 32 bytes, so their base address exists.
    private static func bytes(_ key: UnsafeRawBufferPointer) -> UnsafePointer<UInt8> {
        key.baseAddress!.assumingMemoryBound(to: UInt8.self)
    }

    /// The first `length` bytes of BLAKE2b keyed with `key` (16 to 64 bytes) over `message`.
    public static func keyedHash(_ message: [UInt8], key: [UInt8], length: Int) -> [UInt8] {
        precondition(initialized && (16...64).contains(key.count) && (16...64).contains(length))
        var out = [UInt8](repeating: 0, count: length)
        let rc = crypto_generichash(&out, length, message, UInt64(message.count), key, key.count)
        precondition(rc == 0, "crypto_generichash failed")
        return out
    }

    public static func randomBytes(_ count: Int) -> [UInt8] {
        precondition(initialized)
        var bytes = [UInt8](repeating: 0, count: count)
        randombytes_buf(&bytes, count)
        return bytes
    }

    public static func randomNonce() -> [UInt8] { randomBytes(RelayWire.nonceLength) }

    /// A random non-zero u64: session ids, where zero means "not registered".
    public static func randomNonZeroUInt64() -> UInt64 {
        precondition(initialized)
        var value: UInt64 = 0
        repeat { withUnsafeMutableBytes(of: &value) { randombytes_buf($0.baseAddress!, 8) } } while value == 0
        return value
    }
}
