import FormnetKit
import Testing
import WireGuard
@testable import FormnetAgent

@Suite struct KeyPinningTests {
    let fixture = Fixture()

    @Test func pinsKeysOfNewPeers() {
        let bob = fixture.peer(3, "bob", "10.66.1.3")
        let outcome = KeyPinning.check(API.State(peers: [bob], cidrs: []), pins: [:], previous: nil)
        #expect(outcome.conflicts.isEmpty)
        #expect(outcome.state.peers == [bob])
        #expect(outcome.pins == ["10.66.1.3": bob.publicKey])
    }

    @Test func refusesAKnownIPWithANewKeyAndKeepsTheKnownPeer() {
        let bob = fixture.peer(3, "bob", "10.66.1.3")
        let impostor = fixture.peer(3, "bob", "10.66.1.3")
        let previous = API.State(peers: [bob], cidrs: [])
        let outcome = KeyPinning.check(API.State(peers: [impostor], cidrs: []),
                                       pins: ["10.66.1.3": bob.publicKey], previous: previous)
        #expect(outcome.conflicts == [KeyPinning.Conflict(name: "bob", ip: IPAddress("10.66.1.3")!,
                                                          pinned: bob.publicKey, offered: impostor.publicKey)])
        #expect(outcome.state.peers == [bob])
        #expect(outcome.pins == ["10.66.1.3": bob.publicKey])
        #expect(outcome.conflicts[0].description.contains("refused peer 'bob' (10.66.1.3)"))
    }

    @Test func refusedPeerWithNothingKnownIsLeftOut() {
        let impostor = fixture.peer(3, "bob", "10.66.1.3")
        let outcome = KeyPinning.check(API.State(peers: [impostor], cidrs: []),
                                       pins: ["10.66.1.3": PrivateKey.generate().publicKey], previous: nil)
        #expect(outcome.state.peers.isEmpty)
        #expect(outcome.conflicts.count == 1)
    }

    @Test func unredeemedPeersAreNeitherPinnedNorChecked() {
        let invited = fixture.peer(5, "dave", "10.66.1.5", redeemed: false)
        let outcome = KeyPinning.check(API.State(peers: [invited], cidrs: []), pins: [:], previous: nil)
        #expect(outcome.pins.isEmpty)
        var redeemed = invited
        redeemed.publicKey = PrivateKey.generate().publicKey
        redeemed.isRedeemed = true
        let later = KeyPinning.check(API.State(peers: [redeemed], cidrs: []), pins: outcome.pins, previous: outcome.state)
        #expect(later.conflicts.isEmpty)
        #expect(later.pins == ["10.66.1.5": redeemed.publicKey])
    }
}
