import FormnetKit
import Foundation
import Testing
import WireGuard
@testable import FormnetServer

@Suite struct DevicePeersTests {
    let now = Date()
    let server = IPAddress("10.66.0.1")!

    func peer(_ id: Int64, _ ip: String, disabled: Bool = false, redeemed: Bool = true, expires: Date? = nil,
              key: PublicKey = PrivateKey.generate().publicKey) -> NetworkPeer {
        NetworkPeer(id: id, name: "p\(id)", ip: IPAddress(ip)!, cidrId: 1, publicKey: key,
                    endpoint: Endpoint("198.51.100.\(id):51820"), isDisabled: disabled, isRedeemed: redeemed, inviteExpires: expires)
    }

    @Test func desiredPeersAreEnabledAndUnexpiredButNotTheServer() {
        let peers = [peer(1, "10.66.0.1"), peer(2, "10.66.0.2"), peer(3, "10.66.0.3", disabled: true),
                     peer(4, "10.66.0.4", redeemed: false, expires: now.addingTimeInterval(60)),
                     peer(5, "10.66.0.5", redeemed: false, expires: now.addingTimeInterval(-60)), peer(6, "fd00::6")]
        let desired = DevicePeers.desired(from: peers, serverAddress: server, now: now)
        #expect(desired.map(\.publicKey) == [peers[1], peers[3], peers[5]].map(\.publicKey))
        #expect(desired[0].allowedIPs == [IPNetwork("10.66.0.2/32")!])
        #expect(desired[2].allowedIPs == [IPNetwork("fd00::6/128")!])
        #expect(desired[0].endpoint == Endpoint("198.51.100.2:51820"))
        // A known endpoint comes with a keepalive, so a restarted server handshakes at once.
        #expect(desired[0].persistentKeepalive == 25)
        var unknown = peers[1]
        unknown.endpoint = nil
        #expect(DevicePeers.desired(from: [unknown], serverAddress: server, now: now)[0].persistentKeepalive == 0)
    }

    @Test func redeemTransitionKeepsTheOldKeyForTheWait() {
        let transitions = RedeemTransitions(wait: .seconds(5))
        let old = PrivateKey.generate().publicKey
        let new = PrivateKey.generate().publicKey
        transitions.begin(RedeemedKey(oldKey: old, newKey: new), now: now)
        #expect(transitions.deviceKey(for: new, now: now.addingTimeInterval(4)) == old)
        let redeemed = peer(2, "10.66.0.2", key: new)
        let during = DevicePeers.desired(from: [redeemed], serverAddress: server, now: now) { transitions.deviceKey(for: $0, now: now) }
        #expect(during.map(\.publicKey) == [old])
        #expect(transitions.deviceKey(for: new, now: now.addingTimeInterval(5)) == new)
        #expect(transitions.deviceKey(for: new, now: now) == new)
    }

    @Test func observedEndpoints() {
        let seen = Peer(publicKey: PrivateKey.generate().publicKey, endpoint: Endpoint("192.0.2.1:4444"))
        let silent = Peer(publicKey: PrivateKey.generate().publicKey)
        let relayed = Peer(publicKey: PrivateKey.generate().publicKey, endpoint: Endpoint("127.0.0.1:40123"))
        let device = Device(name: "t", peers: [seen, silent, relayed])
        #expect(DevicePeers.observedEndpoints(device) == [seen.publicKey: Endpoint("192.0.2.1:4444")!])
    }
}
