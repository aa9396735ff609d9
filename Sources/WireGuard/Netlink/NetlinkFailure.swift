import Glibc

/// A netlink request that failed: the kernel's errno and, when it sent one, its extended-ack
/// text. Socket calls that fail report here too, with the errno of the system call.
struct NetlinkFailure: Error, Equatable {
    let errno: Int32
    let message: String?

    init(errno: Int32, message: String? = nil) {
        self.errno = errno
        self.message = message
    }

    /// The error to show a user for `operation`; callers map the errnos that mean something
    /// specific to them (ENODEV, EEXIST, ...) before falling back to this.
    func wireGuardError(_ operation: String) -> WireGuardError {
        switch errno {
        case EPERM, EACCES: return .permissionDenied(operation: operation)
        default: return .netlink(operation: operation, errno: errno, message: message)
        }
    }
}
