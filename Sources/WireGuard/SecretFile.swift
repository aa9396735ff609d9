import Foundation

/// Files that hold private keys: written 0600 and atomically (temp file in the same directory,
/// fsync, rename, fsync the directory), so a crash leaves the old file or the new one, never a
/// torn or world-readable one.
public enum SecretFile {
    public static func write(_ contents: String, to path: String) throws {
        try AtomicFile.write(contents, to: path, mode: 0o600)
    }

    /// Reads a secret file, refusing one that group or others can read or write: a key that
    /// others could have read is no longer secret, and one they could write is not ours.
    public static func read(_ path: String) throws -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { throw WireGuardError.system(operation: "read \(path)", errno: errno) }
        guard st.st_mode & 0o077 == 0 else { throw InsecurePermissions(path: path, mode: st.st_mode & 0o777) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WireGuardError.system(operation: "read \(path)", errno: EIO)
        }
        return String(decoding: data, as: UTF8.self)
    }

    public struct InsecurePermissions: Error, CustomStringConvertible {
        public let path: String
        public let mode: mode_t
        public var description: String {
            "\(path) has mode \(String(mode, radix: 8)) but holds a private key; run 'chmod 600 \(path)'"
        }
    }
}
