import FormnetKit
import Testing
import WireGuard
@testable import FormnetAgent

@Suite struct DesiredPeerTests {
    let fixture = Fixture()

    @Test func serverIsAlwaysAPeerAtItsExternalEndpoint() {
        let peers = DesiredPeer.from(state: API.State(peers: [], cidrs: []), config: fixture.config,
                                     ownKey: fixture.ownKey.publicKey)
        #expect(peers == [DesiredPeer(publicKey: fixture.serverKey, allowedIPs: [IPNetwork("10.66.0.1/32")!],
                                      endpoint: Endpoint("192.0.2.7:51820"), persistentKeepalive: 25)])
    }

    @Test func leavesOutSelfDisabledAndUnredeemedPeers() {
        let bob = fixture.peer(3, "bob", "10.66.1.3", endpoint: "198.51.100.3:51820")
        let state = API.State(peers: [
            fixture.peer(1, "formnet-server", "10.66.0.1", key: fixture.serverKey, cidr: 2),
            fixture.peer(2, "me", "10.66.1.2", key: fixture.ownKey.publicKey),
            bob,
            fixture.peer(4, "carol", "10.66.1.4", disabled: true),
            fixture.peer(5, "dave", "10.66.1.5", redeemed: false),
        ], cidrs: fixture.cidrs)
        let peers = DesiredPeer.from(state: state, config: fixture.config, ownKey: fixture.ownKey.publicKey)
        #expect(peers.map(\.publicKey) == [fixture.serverKey, bob.publicKey])
        #expect(peers[1] == DesiredPeer(publicKey: bob.publicKey, allowedIPs: [IPNetwork("10.66.1.3/32")!],
                                        endpoint: bob.endpoint, persistentKeepalive: 25))
    }

    @Test func disabledPeerIsRemovedFromTheDevice() {
        let carol = fixture.peer(4, "carol", "10.66.1.4", disabled: true)
        let current = [Peer(publicKey: fixture.serverKey, endpoint: Endpoint("192.0.2.7:51820"),
                            allowedIPs: [IPNetwork("10.66.0.1/32")!], persistentKeepalive: 25),
                       Peer(publicKey: carol.publicKey, allowedIPs: [IPNetwork("10.66.1.4/32")!], persistentKeepalive: 25)]
        let desired = DesiredPeer.from(state: API.State(peers: [carol], cidrs: []), config: fixture.config,
                                       ownKey: fixture.ownKey.publicKey)
        #expect(PeerDiff.update(current: current, desired: desired).peers == [.remove(carol.publicKey)])
    }

    @Test func ipv6PeersGetHostPrefixes() {
        let peer = fixture.peer(6, "v6", "fd66::6")
        let desired = DesiredPeer.from(state: API.State(peers: [peer], cidrs: []), config: fixture.config,
                                       ownKey: fixture.ownKey.publicKey)
        #expect(desired.last?.allowedIPs == [IPNetwork("fd66::6/128")!])
    }
}
