import Testing
import WireGuard

@Suite struct PeerDiffTests {
    let alice = PrivateKey.generate().publicKey
    let bob = PrivateKey.generate().publicKey
    let aliceIP = IPNetwork("10.66.1.2/32")!
    let bobIP = IPNetwork("10.66.1.3/32")!
    let aliceEndpoint = Endpoint("192.0.2.1:51820")!

    func desired(_ key: PublicKey, _ ip: IPNetwork, endpoint: Endpoint? = nil, keepalive: UInt16 = 25) -> DesiredPeer {
        DesiredPeer(publicKey: key, allowedIPs: [ip], endpoint: endpoint, persistentKeepalive: keepalive)
    }

    @Test func addsNewPeerWithEverything() {
        let update = PeerDiff.update(current: [], desired: [desired(alice, aliceIP, endpoint: aliceEndpoint)])
        #expect(update.peers == [PeerUpdate(publicKey: alice, endpoint: aliceEndpoint, persistentKeepalive: 25,
                                            replaceAllowedIPs: true, allowedIPs: [aliceIP])])
        #expect(update.replacePeers == false)
        #expect(update.privateKey == nil && update.listenPort == nil)
    }

    @Test func leavesPeerThatIsAlreadyRightAlone() {
        let current = [Peer(publicKey: alice, endpoint: aliceEndpoint, allowedIPs: [aliceIP], persistentKeepalive: 25)]
        let update = PeerDiff.update(current: current, desired: [desired(alice, aliceIP, endpoint: aliceEndpoint)],
                                     previousEndpoints: [alice: aliceEndpoint])
        #expect(update.peers.isEmpty)
    }

    @Test func keepsRoamedEndpointWhileServerViewIsUnchanged() {
        let roamed = Endpoint("198.51.100.9:40000")!
        let current = [Peer(publicKey: alice, endpoint: roamed, allowedIPs: [aliceIP], persistentKeepalive: 25)]
        let update = PeerDiff.update(current: current, desired: [desired(alice, aliceIP, endpoint: aliceEndpoint)],
                                     previousEndpoints: [alice: aliceEndpoint])
        #expect(update.peers.isEmpty)
    }

    @Test func setsEndpointWhenServerViewChanged() {
        let moved = Endpoint("203.0.113.5:51820")!
        let current = [Peer(publicKey: alice, endpoint: aliceEndpoint, allowedIPs: [aliceIP], persistentKeepalive: 25)]
        let update = PeerDiff.update(current: current, desired: [desired(alice, aliceIP, endpoint: moved)],
                                     previousEndpoints: [alice: aliceEndpoint])
        #expect(update.peers == [PeerUpdate(publicKey: alice, action: .updateOnly, endpoint: moved)])
    }

    @Test func setsEndpointWhenPeerHasNone() {
        let current = [Peer(publicKey: alice, allowedIPs: [aliceIP], persistentKeepalive: 25)]
        let update = PeerDiff.update(current: current, desired: [desired(alice, aliceIP, endpoint: aliceEndpoint)],
                                     previousEndpoints: [alice: aliceEndpoint])
        #expect(update.peers == [PeerUpdate(publicKey: alice, action: .updateOnly, endpoint: aliceEndpoint)])
    }

    @Test func removesPeerNoLongerDesired() {
        let current = [Peer(publicKey: alice, allowedIPs: [aliceIP], persistentKeepalive: 25),
                       Peer(publicKey: bob, allowedIPs: [bobIP], persistentKeepalive: 25)]
        let update = PeerDiff.update(current: current, desired: [desired(alice, aliceIP)])
        #expect(update.peers == [.remove(bob)])
    }

    @Test func replacesChangedAllowedIPsOnly() {
        let current = [Peer(publicKey: alice, endpoint: aliceEndpoint, allowedIPs: [aliceIP], persistentKeepalive: 25)]
        let wider = [aliceIP, IPNetwork("10.66.9.0/24")!]
        let want = DesiredPeer(publicKey: alice, allowedIPs: wider, endpoint: aliceEndpoint, persistentKeepalive: 25)
        let update = PeerDiff.update(current: current, desired: [want], previousEndpoints: [alice: aliceEndpoint])
        #expect(update.peers == [PeerUpdate(publicKey: alice, action: .updateOnly, replaceAllowedIPs: true, allowedIPs: wider)])
    }

    @Test func allowedIPsCompareAsSetsOfCanonicalNetworks() {
        let current = [Peer(publicKey: alice, allowedIPs: [IPNetwork("10.66.9.7/24")!, aliceIP], persistentKeepalive: 25)]
        let want = DesiredPeer(publicKey: alice, allowedIPs: [aliceIP, IPNetwork("10.66.9.0/24")!], endpoint: nil,
                               persistentKeepalive: 25)
        #expect(PeerDiff.update(current: current, desired: [want]).peers.isEmpty)
    }

    @Test func setsKeepaliveWhenItDiffers() {
        let current = [Peer(publicKey: alice, allowedIPs: [aliceIP], persistentKeepalive: 0)]
        let update = PeerDiff.update(current: current, desired: [desired(alice, aliceIP)])
        #expect(update.peers == [PeerUpdate(publicKey: alice, action: .updateOnly, persistentKeepalive: 25)])
    }

    @Test func removesBeforeItAddsOrCorrects() {
        let current = [Peer(publicKey: alice, allowedIPs: [aliceIP], persistentKeepalive: 25),
                       Peer(publicKey: bob, allowedIPs: [bobIP], persistentKeepalive: 25)]
        let carol = PrivateKey.generate().publicKey
        let carolIP = IPNetwork("10.66.1.4/32")!
        let update = PeerDiff.update(current: current, desired: [desired(alice, bobIP), desired(carol, carolIP)])
        #expect(update.peers == [.remove(bob), .setAllowedIPs(alice, [bobIP]),
                                 PeerUpdate(publicKey: carol, persistentKeepalive: 25, replaceAllowedIPs: true,
                                            allowedIPs: [carolIP])])
    }

    /// The server's reconciliation: present peers keep the endpoint WireGuard roamed to and the
    /// keepalive they were added with; only their allowed IPs are corrected.
    @Test func allowedIPsOnlyLeavesEndpointAndKeepaliveOfPresentPeersAlone() {
        let keep = Peer(publicKey: alice, endpoint: Endpoint("192.0.2.1:1"), allowedIPs: [aliceIP])
        let moved = Peer(publicKey: bob, allowedIPs: [bobIP])
        let gone = Peer(publicKey: PrivateKey.generate().publicKey, allowedIPs: [IPNetwork("10.66.1.4/32")!])
        let new = PrivateKey.generate().publicKey
        let newIP = IPNetwork("10.66.1.5/32")!
        let movedIP = IPNetwork("10.66.1.9/32")!
        let desiredPeers = [desired(alice, aliceIP, endpoint: Endpoint("192.0.2.99:1")),
                            desired(bob, movedIP, endpoint: aliceEndpoint, keepalive: 25),
                            desired(new, newIP, endpoint: nil, keepalive: 0)]
        let update = PeerDiff.update(current: [keep, moved, gone], desired: desiredPeers, correcting: .allowedIPsOnly)
        #expect(update.peers == [.remove(gone.publicKey), .setAllowedIPs(bob, [movedIP]),
                                 .add(Peer(publicKey: new, allowedIPs: [newIP]))])
        #expect(update.replacePeers == false && update.privateKey == nil)
        let unchanged = [desired(alice, aliceIP, endpoint: aliceEndpoint, keepalive: 25)]
        #expect(PeerDiff.update(current: [keep], desired: unchanged, correcting: .allowedIPsOnly).peers.isEmpty)
    }
}
