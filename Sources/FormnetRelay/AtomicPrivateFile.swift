import Foundation

/// Writes a secret file so that no reader ever sees it partial and nobody but the owner can
/// read it at any moment: a temporary file in the same directory created with
/// O_CREAT|O_EXCL and mode 0600, written and fsynced, renamed over the target, then the
/// directory fsynced so the rename itself survives a crash.
public enum AtomicPrivateFile {
    public struct WriteError: Error, CustomStringConvertible {
        public let description: String
        init(_ step: String, _ path: String) { description = "\(step) \(path): \(String(cString: strerror(errno)))" }
    }

    public static func write(_ contents: [UInt8], to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw WriteError("create", temporary) }
        var failure: WriteError?
        let written = contents.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        if written != contents.count { failure = WriteError("write", temporary) } else if fsync(fd) != 0 { failure = WriteError("fsync", temporary) }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 { failure = WriteError("rename to", path) }
        if let failure {
            unlink(temporary)
            throw failure
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else { throw WriteError("open directory", directory) }
        defer { close(directoryFD) }
        guard fsync(directoryFD) == 0 else { throw WriteError("fsync directory", directory) }
    }
}
