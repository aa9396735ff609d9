extension BackendKind {
    /// The backend of this kind as the command-line tools use it: wireguard-go from PATH, and
    /// the system's netlink sockets and UAPI socket directory.
    public func makeBackend() -> any WireGuardBackend {
        switch self {
        case .kernel: KernelBackend()
        case .userspace: UserspaceBackend()
        }
    }
}
