import CSodium

/// libsodium must be initialised once before its RNG is used; `sodium_init` is idempotent
/// and thread-safe, so calling it lazily from every entry point is correct and cheap.
enum Sodium {
    private static let initialized: Bool = sodium_init() >= 0

    static func ensureInitialized() {
        precondition(initialized, "libsodium failed to initialise")
    }

    static func zero(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { if let base = $0.baseAddress { sodium_memzero(base, $0.count) } }
    }
}
