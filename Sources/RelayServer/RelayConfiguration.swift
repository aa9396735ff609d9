import RelayWire
import WireGuard

/// The limits and identity a relay runs with; every field is a `start-relay` flag.
public struct RelayConfiguration: Sendable {
    public var maxConnections: Int = 100
    /// TCP connections from one IPv4 address or IPv6 /64: enough for the clients behind one
    /// NAT that fall back to TCP, too few for one host to hold the relay's TCP slots.
    public var maxTCPPerAddress: Int = 8
    /// KB/s (1 KB = 1024 bytes) per tunnel.
    /// Registrations from one IPv4 address or IPv6 /64 on an `--open` relay: room for the
    /// members behind one NAT or carrier-grade NAT, not for one host to fill the relay.
    public var maxSessionsPerAddress: Int = 16
    public var maxBandwidthKBps: Int = RelayConfiguration.strangerLimits.bandwidthKBps
    public var maxTunnelsPerDevice: Int = RelayConfiguration.strangerLimits.tunnelsPerDevice
    /// Channel ports open at once (each is a socket); beyond it clients keep using data frames.
    public var maxChannels: Int = 1024
    /// Frames per second per source IP.
    public var rateLimit: Int = RelayConfiguration.strangerLimits.rateLimit
    public var registrationRatePerSecond: Int = 10
    public var registrationBurst: Int = 20
    /// Register and announce frames the relay verifies per second from all addresses together
    /// (burst twice that): bounds the share of the forwarding thread spent on X25519.
    public var registrationsPerSecondTotal: Int = 2_000
    /// For this long after it starts the relay asks every registration to prove its address
    /// with a cookie: a register frame captured before a restart is still inside the timestamp
    /// window for up to two windows (it may be stamped one window ahead), and the replay cache
    /// did not survive the restart.
    public var cookiesAfterStartMillis: UInt64 = 2 * RelayWire.timestampWindowMillis
    public var location: RelayLocation = .unknown
    public var endpoints: [RelayAddress] = []
    public var peerRelays: [KnownRelay] = []
    public var version: String = FormnetVersion.string

    public init() {}

    /// The per-tunnel bandwidth and per-source frame rate `start-relay` applies unless told
    /// otherwise. A relay that serves strangers (`--open`, `--allow-keys`) keeps the Geogram
    /// seed's conservative limits (~8 Mbit/s a tunnel); one that serves its own network's members
    /// gives them its full speed: no bandwidth cap to speak of, and a frame rate per source that a
    /// 10 Gbit/s member does not reach (about 11 Gbit/s of full-size frames) while a flood from
    /// one address is still cut off.
    ///
    /// Destinations at once per key: 20 for strangers (Geogram's); 256 for members, who may relay
    /// to most of their network at once while their direct paths come up.
    public struct DefaultLimits: Sendable, Equatable {
        public var bandwidthKBps: Int
        public var rateLimit: Int
        public var tunnelsPerDevice: Int
    }
    public static let strangerLimits = DefaultLimits(bandwidthKBps: 1000, rateLimit: 20_000, tunnelsPerDevice: 20)
    public static let memberLimits = DefaultLimits(bandwidthKBps: Int(Int32.max), rateLimit: 1_000_000, tunnelsPerDevice: 256)

    var bandwidthBytesPerSecond: Int64 { Int64(maxBandwidthKBps) * 1024 }
    /// One second's worth, but never less than a few full frames so a slow tunnel can still send one.
    var bandwidthBurst: Int64 { max(bandwidthBytesPerSecond, Int64(4 * RelayWire.maxFrame)) }
}
