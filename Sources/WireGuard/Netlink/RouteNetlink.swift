import CNetlink
import Glibc

/// `LinkControl` over rtnetlink. Each call opens its own socket, so one instance can be shared
/// freely across tasks.
public final class RouteNetlink: LinkControl, Sendable {
    public init() {}

    public func createWireGuardLink(named name: String) throws {
        try InterfaceName.validate(name)
        let operation = "create WireGuard interface '\(name)'"
        do {
            try transact(RouteMessages.createWireGuardLink(named: name))
        } catch let failure as NetlinkFailure {
            switch failure.errno {
            // The kernel knows no link kind "wireguard" (and could not load a module for it).
            case EOPNOTSUPP: throw WireGuardError.kernelModuleMissing
            case EEXIST: throw WireGuardError.interfaceExists(name)
            default: throw failure.wireGuardError(operation)
            }
        }
    }

    public func deleteLink(named name: String) throws {
        try InterfaceName.validate(name)
        try perform("delete interface '\(name)'", interface: name) {
            try transact(RouteMessages.deleteLink(named: name))
        }
    }

    public func wireGuardLinks() throws -> [String] {
        try perform("list network interfaces", interface: nil) {
            try links().filter { $0.kind == RouteMessages.wireGuardKind }.map(\.name)
        }
    }

    public func linkIndex(named name: String) throws -> Int32? {
        try InterfaceName.validate(name)
        do {
            let replies = try transact(RouteMessages.getLink(named: name))
            return replies.lazy.compactMap(RouteMessages.link(from:)).first?.index
        } catch let failure as NetlinkFailure {
            if failure.errno == ENODEV { return nil }
            throw failure.wireGuardError("look up interface '\(name)'")
        }
    }

    public func addAddress(_ address: IPNetwork, to name: String) throws {
        let index = try existingIndex(name)
        try perform("add address \(address) to '\(name)'", interface: name) {
            try transact(RouteMessages.addAddress(address, index: index))
        }
    }

    public func setMTU(_ mtu: UInt32, on name: String) throws {
        let index = try existingIndex(name)
        try perform("set MTU \(mtu) on '\(name)'", interface: name) {
            try transact(RouteMessages.setLink(index: index, mtu: mtu))
        }
    }

    public func setUp(_ up: Bool, name: String) throws {
        let index = try existingIndex(name)
        try perform("bring '\(name)' \(up ? "up" : "down")", interface: name) {
            try transact(RouteMessages.setLink(index: index, up: up))
        }
    }

    public func addRoute(_ network: IPNetwork, via name: String) throws {
        let index = try existingIndex(name)
        do {
            try transact(RouteMessages.addRoute(network, index: index))
        } catch let failure as NetlinkFailure {
            switch failure.errno {
            // The route already exists; with EXCL the kernel says so rather than adding a twin.
            case EEXIST: return
            case ENODEV: throw WireGuardError.interfaceNotFound(name)
            default: throw failure.wireGuardError("add route to \(network.canonical) via '\(name)'")
            }
        }
    }

    /// Every link in this network namespace.
    func links() throws -> [RouteMessages.Link] {
        try transact(RouteMessages.dumpLinks()).compactMap(RouteMessages.link(from:))
    }

    private func existingIndex(_ name: String) throws -> Int32 {
        guard let index = try linkIndex(named: name) else { throw WireGuardError.interfaceNotFound(name) }
        return index
    }

    @discardableResult
    private func transact(_ request: [UInt8]) throws -> [NetlinkMessage] {
        try NetlinkSocket(bus: NETLINK_ROUTE).transact(request)
    }

    /// Runs `body`, turning a netlink failure into the error a user can act on.
    @discardableResult
    private func perform<T>(_ operation: String, interface: String?, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let failure as NetlinkFailure {
            if failure.errno == ENODEV, let interface { throw WireGuardError.interfaceNotFound(interface) }
            throw failure.wireGuardError(operation)
        }
    }
}
