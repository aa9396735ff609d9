import Foundation

/// Whole-file replacement: a temporary file in the same directory, created with the final mode,
/// written, fsynced and renamed over the target, then the directory fsynced, so a reader or a
/// crash sees the old file or the new one, never a torn one. `SecretFile` uses it for 0600
/// files; members also write files others must read, such as the hosts file.
public enum AtomicFile {
    public static func write(_ contents: String, to path: String, mode: mode_t) throws {
        let parent = (path as NSString).deletingLastPathComponent
        let directory = parent.isEmpty ? "." : parent
        let temp = "\(directory)/.\((path as NSString).lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw WireGuardError.system(operation: "create \(temp)", errno: errno) }
        var committed = false
        defer {
            if !committed { unlink(temp) }
        }
        do {
            defer { close(fd) }
            // open()'s mode is filtered by the umask; fchmod makes it exact.
            guard fchmod(fd, mode) == 0 else { throw WireGuardError.system(operation: "chmod \(temp)", errno: errno) }
            // The contents may be a key: the copy made for writing is zeroed afterwards.
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

    /// Creates a directory and its parents if missing, with `mode` for the ones created.
    public static func makeDirectory(_ path: String, mode: Int = 0o700) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: mode])
    }
}
