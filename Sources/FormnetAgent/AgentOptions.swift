import FormnetKit

/// The global choices every member command shares (innernet's global flags).
public struct AgentOptions: Sendable {
    public var paths: Paths
    /// Overrides the config's MTU.
    public var mtu: UInt32?
    /// Add a route for the network's CIDR through the interface.
    public var routing: Bool
    /// Where to keep the hosts-file block; nil leaves the hosts file alone.
    public var hostsPath: String?

    public static let defaultMTU: UInt32 = 1420

    public init(paths: Paths, mtu: UInt32? = nil, routing: Bool = true, hostsPath: String? = HostsFile.defaultPath) {
        self.paths = paths
        self.mtu = mtu
        self.routing = routing
        self.hostsPath = hostsPath
    }
}
