import Foundation
import WireGuard

/// Whole-file replacement with a chosen mode: a temp file in the same directory, fsync, rename,
/// so readers see the old file or the new one, never a torn one. `SecretFile` does the same for
/// 0600 files; this one also writes files others must read, such as the hosts file.
enum AtomicFile {
    static func write(_ contents: String, to path: String, mode: mode_t) throws {
        let name = (path as NSString).lastPathComponent
        let parent = (path as NSString).deletingLastPathComponent
        let directory = parent.isEmpty ? "." : parent
        let temp = "\(directory)/.\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw WireGuardError.system(operation: "create \(temp)", errno: errno) }
        var committed = false
        defer { if !committed { unlink(temp) } }
        do {
            defer { close(fd) }
            // open()'s mode is filtered by the umask; fchmod makes it exact.
            guard fchmod(fd, mode) == 0 else { throw WireGuardError.system(operation: "chmod \(temp)", errno: errno) }
            let bytes = Array(contents.utf8)
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
    }

    /// Creates a directory and its parents if missing, with `mode` for the ones created.
    static func makeDirectory(_ path: String, mode: Int = 0o700) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: mode])
    }
}
