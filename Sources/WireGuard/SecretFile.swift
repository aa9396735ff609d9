import Foundation

/// Files that hold private keys: written 0600 and atomically (temp file in the same directory,
/// fsync, rename, fsync the directory), so a crash leaves the old file or the new one, never a
/// torn or world-readable one.
public enum SecretFile {
    public static func write(_ contents: String, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent.isEmpty
            ? "." : (path as NSString).deletingLastPathComponent
        let temp = "\(directory)/.\((path as NSString).lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw WireGuardError.system(operation: "create \(temp)", errno: errno) }
        var committed = false
        defer {
            if !committed { unlink(temp) }
        }
        do {
            defer { close(fd) }
            // open()'s mode is filtered by the umask; fchmod makes 0600 exact.
            guard fchmod(fd, 0o600) == 0 else { throw WireGuardError.system(operation: "chmod \(temp)", errno: errno) }
            var bytes = Array(contents.utf8)
            defer { Sodium.zero(&bytes) }
            var written = 0
            while written < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw WireGuardError.system(operation: "write \(temp)", errno: errno)
                }
                written += n
            }
            guard fsync(fd) == 0 else { throw WireGuardError.system(operation: "fsync \(temp)", errno: errno) }
        }
        guard rename(temp, path) == 0 else { throw WireGuardError.system(operation: "rename to \(path)", errno: errno) }
        committed = true
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            fsync(dirfd)
            close(dirfd)
        }
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
