import Foundation
import WireGuard

/// Whom the relay serves. There is no default: an open relay made by accident launders traffic
/// for anyone, so the operator must name one of these.
public enum AccessPolicy: Sendable, Equatable {
    case open
    case keys(Set<PublicKey>)

    @inline(__always)
    public func admits(_ key: PublicKey) -> Bool {
        switch self {
        case .open: true
        case .keys(let keys): keys.contains(key)
        }
    }

    public var isOpen: Bool { self == .open }
}

/// A file of base64 public keys, one a line, `#` comments and blank lines ignored — the format
/// of `--allow-keys FILE` and of the network member file `DATA_DIR/NET.members`.
public enum KeyListFile {
    public struct Parsed: Sendable {
        public var keys: Set<PublicKey>
        /// 1-based numbers of lines that were neither blank, a comment nor a key.
        public var badLines: [Int]
    }

    public static func parse(_ text: String) -> Parsed {
        var keys = Set<PublicKey>()
        var bad = [Int]()
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if let key = PublicKey(base64: line) { keys.insert(key) } else { bad.append(index + 1) }
        }
        return Parsed(keys: keys, badLines: bad)
    }

    /// The member file that `--network NET` reads.
    public static func networkMembersPath(dataDirectory: String, network: String) -> String {
        (dataDirectory as NSString).appendingPathComponent("\(network).members")
    }
}

/// Re-reads a key list file when its modification time or size changes. Polled (every 2 s by
/// the service) rather than watched with inotify: one stat per poll is negligible, it works on
/// any file system and survives the file being replaced by rename, which inotify watches do not.
public final class KeyListWatcher: @unchecked Sendable {
    // Touched only from the service's single maintenance task.
    public let path: String
    private var lastStamp: (mtime: timespec, size: off_t)?

    public init(path: String) { self.path = path }

    public enum Change { case unchanged, reloaded(KeyListFile.Parsed), unreadable(String) }

    public func poll() -> Change {
        var info = stat()
        guard stat(path, &info) == 0 else { return .unreadable(String(cString: strerror(errno))) }
        if let last = lastStamp, last.mtime.tv_sec == info.st_mtim.tv_sec, last.mtime.tv_nsec == info.st_mtim.tv_nsec, last.size == info.st_size {
            return .unchanged
        }
        guard let data = FileManager.default.contents(atPath: path) else { return .unreadable("cannot read") }
        lastStamp = (info.st_mtim, info.st_size)
        return .reloaded(KeyListFile.parse(String(decoding: data, as: UTF8.self)))
    }
}
