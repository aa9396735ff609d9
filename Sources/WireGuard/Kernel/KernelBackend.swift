import CNetlink
import Glibc

/// WireGuard in the Linux kernel: links through rtnetlink, configuration through the
/// "wireguard" generic netlink family. Each call opens its own sockets; the class holds no
/// mutable state and may be shared across tasks.
public final class KernelBackend: WireGuardBackend, Sendable {
    public let kind = BackendKind.kernel
    /// A dump interrupted by a concurrent change is retried this many times in all.
    private static let dumpAttempts = 3
    private let links: any LinkControl

    public init(links: any LinkControl = RouteNetlink()) {
        self.links = links
    }

    /// Creates the link and reads it back through generic netlink; if that fails the link is
    /// removed again, so a failed call leaves no interface behind.
    public func createInterface(named name: String) throws {
        try links.createWireGuardLink(named: name)
        do {
            _ = try device(named: name)
        } catch {
            try? links.deleteLink(named: name)
            throw error
        }
    }

    public func deleteInterface(named name: String) throws {
        try links.deleteLink(named: name)
    }

    public func interfaces() throws -> [String] {
        try links.wireGuardLinks()
    }

    public func device(named name: String) throws -> Device {
        try InterfaceName.validate(name)
        let operation = "read WireGuard interface '\(name)'"
        var attempt = 1
        while true {
            do {
                let socket = try NetlinkSocket(bus: NETLINK_GENERIC)
                let family = try resolveFamily(on: socket)
                let replies = try socket.transact(WireGuardGenl.getDeviceRequest(family: family, interface: name))
                return try DeviceDumpParser.device(named: name, from: replies)
            } catch let failure as NetlinkFailure where failure.errno == EINTR && attempt < Self.dumpAttempts {
                attempt += 1
            } catch let failure as NetlinkFailure {
                throw Self.error(for: failure, operation: operation, interface: name)
            }
        }
    }

    /// Sends the update in as many requests as it needs, in order. The kernel applies each
    /// request as it arrives, so a failure part-way leaves the earlier requests applied.
    public func apply(_ update: DeviceUpdate, to name: String) throws {
        try InterfaceName.validate(name)
        let operation = "configure WireGuard interface '\(name)'"
        do {
            let socket = try NetlinkSocket(bus: NETLINK_GENERIC)
            let family = try resolveFamily(on: socket)
            var requests = try SetDeviceRequests.build(update, interface: name, family: family)
            defer { for index in requests.indices { Sodium.zero(&requests[index]) } }
            for request in requests {
                try socket.transact(request)
            }
        } catch let failure as NetlinkFailure {
            throw Self.error(for: failure, operation: operation, interface: name)
        }
    }

    /// ENOENT from the controller means no "wireguard" family: the module is not loaded (the
    /// kernel tries to load it on this very request) or not built.
    private func resolveFamily(on socket: NetlinkSocket) throws -> UInt16 {
        do {
            return try GenericNetlinkFamily.resolve(WireGuardGenl.familyName, on: socket)
        } catch let failure as NetlinkFailure where failure.errno == ENOENT {
            throw WireGuardError.kernelModuleMissing
        }
    }

    private static func error(for failure: NetlinkFailure, operation: String, interface: String) -> WireGuardError {
        switch failure.errno {
        case ENODEV:
            return .interfaceNotFound(interface)
        case EOPNOTSUPP:
            return .netlink(operation: operation, errno: failure.errno,
                            message: failure.message ?? "'\(interface)' is not a WireGuard interface")
        default:
            return failure.wireGuardError(operation)
        }
    }
}
