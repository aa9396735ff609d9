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

    /// WireGuard's usual MTU: its 32 bytes and an IPv6/UDP header (48) fit a 1500-byte path.
    public static let defaultMTU: UInt32 = 1420
    /// With relay fallback on (the default): a relayed packet carries 51 more bytes of relay
    /// header, and at 1420 it would be fragmented on every 1500-byte path — 25% less relayed
    /// throughput in the lab, and lost outright where fragments are dropped.
    public static let relayFallbackMTU: UInt32 = 1360

    /// The MTU an interface gets when neither the command line nor the config sets one.
    public static func defaultMTU(relayFallback: Bool) -> UInt32 { relayFallback ? relayFallbackMTU : defaultMTU }

    public init(paths: Paths, mtu: UInt32? = nil, routing: Bool = true, hostsPath: String? = HostsFile.defaultPath) {
        self.paths = paths
        self.mtu = mtu
        self.routing = routing
        self.hostsPath = hostsPath
    }
}
