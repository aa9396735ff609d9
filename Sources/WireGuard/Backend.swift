/// Where WireGuard runs: the kernel module, or a wireguard-go process per interface.
public enum BackendKind: String, Sendable, CaseIterable {
    case kernel
    case userspace
}

/// Control of WireGuard devices, implemented by `KernelBackend` (generic netlink) and
/// `UserspaceBackend` (wireguard-go's UAPI socket). Calls block on a socket round trip.
public protocol WireGuardBackend: Sendable {
    var kind: BackendKind { get }
    /// Create the interface (the kernel link, or a wireguard-go process that creates its TUN).
    func createInterface(named name: String) throws
    /// Remove the interface; for userspace, stop its wireguard-go process.
    func deleteInterface(named name: String) throws
    /// Names of the WireGuard interfaces this backend manages.
    func interfaces() throws -> [String]
    func device(named name: String) throws -> Device
    func apply(_ update: DeviceUpdate, to name: String) throws
}
