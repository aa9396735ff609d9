import FormnetKit
import RelayClient
import Foundation
import WireGuard

/// What the server's WireGuard device should hold.
public enum DevicePeers {
    /// Every enabled peer but the server itself, with its tunnel IP as its only allowed IP.
    /// Unredeemed invitations are included while unexpired, under their temporary key, so the
    /// invitee can reach the API to redeem. The endpoint is only a starting point (the one last
    /// recorded); WireGuard's roaming follows members from there. A peer with a known endpoint
    /// gets a keepalive: WireGuard sends one as soon as the peer is added, so a restarted server
    /// handshakes with its members at once instead of waiting for their session to time out.
    public static func desired(from peers: [NetworkPeer], serverAddress: IPAddress, now: Date,
                               deviceKey: (PublicKey) -> PublicKey = { $0 }) -> [DesiredPeer] {
        peers.compactMap { peer in
            guard peer.ip != serverAddress, !peer.isDisabled else { return nil }
            if !peer.isRedeemed, let expires = peer.inviteExpires, expires <= now { return nil }
            guard let host = IPNetwork(address: peer.ip, prefixLength: peer.ip.bitWidth) else { return nil }
            return DesiredPeer(publicKey: deviceKey(peer.publicKey), allowedIPs: [host], endpoint: peer.endpoint,
                               persistentKeepalive: peer.endpoint == nil ? 0 : DesiredPeer.defaultKeepalive)
        }
    }

    /// The endpoints the device has seen its peers at. A loopback endpoint is the proxy of the
    /// server's relay client (the member reaches the server through a relay), not an address
    /// other members could use.
    public static func observedEndpoints(_ device: Device) -> [PublicKey: Endpoint] {
        Dictionary(device.peers.compactMap { peer in
            peer.endpoint.flatMap { RelayClientEngine.isProxy($0) ? nil : (peer.publicKey, $0) }
        }, uniquingKeysWith: { first, _ in first })
    }
}
