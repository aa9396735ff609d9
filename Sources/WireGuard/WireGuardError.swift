import Foundation

/// Failures of WireGuard control, each worded to tell the user what to do next.
public enum WireGuardError: Error, Equatable, CustomStringConvertible {
    /// The kernel has no "wireguard" generic-netlink family or link kind.
    case kernelModuleMissing
    /// wireguard-go is not on PATH.
    case wireguardGoMissing
    /// EPERM/EACCES from netlink or the UAPI socket.
    case permissionDenied(operation: String)
    case interfaceNotFound(String)
    case interfaceExists(String)
    case invalidInterfaceName(String)
    /// A netlink request was answered with an error; `message` is the kernel's extended ack text.
    case netlink(operation: String, errno: Int32, message: String?)
    /// wireguard-go answered a UAPI request with `errno=N` (N ≠ 0).
    case uapi(operation: String, errno: Int32)
    /// A reply that does not follow the protocol.
    case malformedReply(String)
    case userspaceStartFailed(interface: String, detail: String)
    case system(operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .kernelModuleMissing:
            return "the kernel has no WireGuard support (module 'wireguard' not loaded or not built); "
                + "load it with 'modprobe wireguard', or use the userspace implementation with --backend userspace"
        case .wireguardGoMissing:
            return "wireguard-go was not found on PATH; install it (Debian: apt-get install --no-install-recommends wireguard-go) "
                + "or use the kernel module with --backend kernel"
        case .permissionDenied(let op):
            return "\(op): permission denied; formnet needs root or CAP_NET_ADMIN to configure network interfaces"
        case .interfaceNotFound(let name):
            return "interface '\(name)' does not exist"
        case .interfaceExists(let name):
            return "interface '\(name)' already exists"
        case .invalidInterfaceName(let name):
            return "invalid interface name '\(name)': use 1 to 15 characters from [A-Za-z0-9_=+.-]"
        case .netlink(let op, let errno, let message):
            let reason = message ?? String(cString: strerror(errno))
            return "\(op): \(reason) (errno \(errno))"
        case .uapi(let op, let errno):
            return "\(op): wireguard-go refused the request: \(String(cString: strerror(errno))) (errno \(errno))"
        case .malformedReply(let detail):
            return "malformed reply: \(detail)"
        case .userspaceStartFailed(let name, let detail):
            return "could not start wireguard-go for '\(name)': \(detail)"
        case .system(let op, let errno):
            return "\(op): \(String(cString: strerror(errno))) (errno \(errno))"
        }
    }
}

public enum InterfaceName {
    /// Linux's IFNAMSIZ is 16 including the NUL; wg-quick's character set keeps names safe in
    /// file paths (the UAPI socket is named after the interface).
    public static func validate(_ name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_=+.-")
        guard (1...15).contains(name.utf8.count), name.allSatisfy(allowed.contains),
              name != ".", name != ".." else {
            throw WireGuardError.invalidInterfaceName(name)
        }
    }
}
