/// Why the relay dropped a frame; each is a label of `formnet_relay_drops_total` and is listed
/// in docs/relay-protocol.md.
public enum DropReason: Int, Sendable, CaseIterable, Error {
    case malformed
    case badVersion
    case unknownType
    case unexpectedType
    case rateLimited
    case registrationRateLimited
    case badBox
    case staleTimestamp
    case replayedNonce
    case replayCacheFull
    case notAllowed
    case relayFull
    case unknownSession
    case spoofedSession
    case peerUnknown
    case selfDestination
    case tooManyTunnels
    case bandwidth
    case sendFailed
    case channelForbidden
    case notWireGuard
    case channelsFull
    case slowReader
    case channelsPerClient
    case sessionsPerAddress

    public var label: String {
        switch self {
        case .malformed: "malformed"
        case .badVersion: "bad-version"
        case .unknownType: "unknown-type"
        case .unexpectedType: "unexpected-type"
        case .rateLimited: "rate-limited"
        case .registrationRateLimited: "registration-rate-limited"
        case .badBox: "bad-box"
        case .staleTimestamp: "stale-timestamp"
        case .replayedNonce: "replayed-nonce"
        case .replayCacheFull: "replay-cache-full"
        case .notAllowed: "not-allowed"
        case .relayFull: "relay-full"
        case .unknownSession: "unknown-session"
        case .spoofedSession: "spoofed-session"
        case .peerUnknown: "peer-unknown"
        case .selfDestination: "self-destination"
        case .tooManyTunnels: "too-many-tunnels"
        case .bandwidth: "bandwidth"
        case .sendFailed: "send-failed"
        case .channelForbidden: "channel-forbidden"
        case .notWireGuard: "not-wireguard"
        case .channelsFull: "channels-full"
        case .slowReader: "slow-reader"
        case .channelsPerClient: "channels-per-client"
        case .sessionsPerAddress: "sessions-per-address"
        }
    }
}
