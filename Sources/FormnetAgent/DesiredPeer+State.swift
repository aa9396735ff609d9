import FormnetKit
import WireGuard

/// A member's desired peers, derived from the server's state and the member's config.
extension DesiredPeer {
    /// The peers this member's device should have: every enabled, redeemed peer the server shows
    /// except this member itself, plus the server. Unredeemed peers are left out: their key is
    /// an invitation key that redeeming replaces, and only the server talks to it.
    public static func from(state: API.State, config: InterfaceConfig, ownKey: PublicKey) -> [DesiredPeer] {
        let ownIP = config.interface.address.address
        let serverKey = config.server.publicKey
        var peers = [serverPeer(config, state: state)]
        for peer in state.peers where peer.publicKey != serverKey && peer.publicKey != ownKey && peer.ip != ownIP
            && !peer.isDisabled && peer.isRedeemed {
            peers.append(DesiredPeer(publicKey: peer.publicKey, allowedIPs: [host(peer.ip)], endpoint: peer.endpoint,
                                     persistentKeepalive: peer.persistentKeepalive ?? defaultKeepalive))
        }
        return peers
    }

    /// The server is always a peer, reached at the external endpoint the invitation named; it
    /// may also be listed in the state, which then says which tunnel IP it holds.
    public static func serverPeer(_ config: InterfaceConfig, state: API.State? = nil) -> DesiredPeer {
        let listed = state?.peers.first { $0.publicKey == config.server.publicKey }
        var allowed = [host(config.server.internalEndpoint.address)]
        if let listed, listed.ip != config.server.internalEndpoint.address { allowed.append(host(listed.ip)) }
        return DesiredPeer(publicKey: config.server.publicKey, allowedIPs: allowed,
                           endpoint: config.server.externalEndpoint,
                           persistentKeepalive: listed?.persistentKeepalive ?? defaultKeepalive)
    }

    static func host(_ address: IPAddress) -> IPNetwork {
        // A prefix of the address's full width is always in range.
        IPNetwork(address: address, prefixLength: address.bitWidth)!
    }
}
