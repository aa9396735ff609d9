import WireGuard

/// innernet's NAT traversal flags for `up --daemon`.
public struct TraversalOptions: Sendable {
    /// Try candidates for each peer (false: use the endpoint the server gives, as before).
    public var enabled: Bool
    /// Report this host's addresses as candidates to the server.
    public var reportHostCandidates: Bool
    /// Networks never reported or tried as candidates.
    public var excluded: [IPNetwork]
    /// How often to probe the server's STUN observers for this member's NAT type.
    public var natProbeInterval: Duration
    /// MaxMind DB for relay and own locations (nil: the usual system paths, if any exists).
    public var geoIPDatabase: String?

    public init(enabled: Bool = true, reportHostCandidates: Bool = true, excluded: [IPNetwork] = [],
                natProbeInterval: Duration = .seconds(300), geoIPDatabase: String? = nil) {
        self.geoIPDatabase = geoIPDatabase
        self.enabled = enabled
        self.reportHostCandidates = reportHostCandidates
        self.excluded = excluded
        self.natProbeInterval = natProbeInterval
    }
}
