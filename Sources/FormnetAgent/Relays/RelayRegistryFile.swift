import Foundation
import Glibc
import WireGuard

/// Read-modify-write of the relay registry (`Paths.relayRegistry`) under an exclusive lock: the
/// daemons of several networks and `add-bootstrap-relay` share the one file, and without the
/// lock a daemon saving its measurements could drop a bootstrap relay added a moment earlier.
enum RelayRegistryFile {
    /// Loads the registry (missing or unreadable: empty, with a warning), lets `change` edit it,
    /// and saves it when it changed. Returns what `change` returned and the registry as saved.
    /// The data directory is made if missing: `add-bootstrap-relay` may come before `install`.
    static func update<T>(_ path: String, warn: (String) -> Void,
                          _ change: (inout RelayRegistry) throws -> T) throws -> (T, RelayRegistry) {
        try AtomicFile.makeDirectory((path as NSString).deletingLastPathComponent)
        let lockPath = path + ".lock"
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw WireGuardError.system(operation: "open \(lockPath)", errno: errno) }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw WireGuardError.system(operation: "lock \(lockPath)", errno: errno) }
        }
        let before = RelayRegistry.load(from: path, warn: warn)
        var registry = before
        let result = try change(&registry)
        if registry != before { try registry.save(to: path) }
        return (result, registry)
    }
}
