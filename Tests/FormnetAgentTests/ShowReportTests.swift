import Foundation
import FormnetKit
import Testing
import WireGuard
@testable import FormnetAgent

@Suite struct ShowReportTests {
    let fixture = Fixture()
    let now = Date(timeIntervalSince1970: 1_000_000)

    var bob: NetworkPeer { fixture.peer(3, "bob", "10.66.1.3", endpoint: "198.51.100.3:51820") }

    @Test func showsPeersWithNamesHandshakeAndTransfer() {
        let bob = bob
        let device = Device(name: "evilcorp", publicKey: fixture.ownKey.publicKey, listenPort: 51820, peers: [
            Peer(publicKey: bob.publicKey, endpoint: bob.endpoint, allowedIPs: [IPNetwork("10.66.1.3/32")!],
                 lastHandshake: now.addingTimeInterval(-5), rxBytes: 2048, txBytes: 100),
        ])
        let cache = PeerCache(state: API.State(peers: [bob, fixture.peer(2, "me", "10.66.1.2", key: fixture.ownKey.publicKey)],
                                               cidrs: fixture.cidrs))
        let text = ShowReport.render(network: "evilcorp", config: fixture.config, device: device, cache: cache,
                                     short: false, tree: false, now: now)
        #expect(text.contains("network: evilcorp\n  network cidr: 10.66.0.0/16\n  this peer: me (10.66.1.2)"))
        #expect(text.contains("  peer: bob (10.66.1.3)\n    public key: \(bob.publicKey)\n    endpoint: 198.51.100.3:51820"))
        #expect(text.contains("    last handshake: 5 seconds ago\n    transfer: 2.00 KiB received, 100 B sent"))
        #expect(!text.contains(fixture.ownKey.base64))

        let short = ShowReport.render(network: "evilcorp", config: fixture.config, device: device, cache: cache,
                                      short: true, tree: false, now: now)
        #expect(short.contains("  bob 10.66.1.3 endpoint 198.51.100.3:51820 handshake 5 seconds ago"))
    }

    @Test func showsPathsAndNatTypesFromTheDaemonsStatus() {
        let bob = bob
        let device = Device(name: "evilcorp", peers: [
            Peer(publicKey: bob.publicKey, endpoint: bob.endpoint, allowedIPs: [IPNetwork("10.66.1.3/32")!]),
        ])
        let cache = PeerCache(state: API.State(peers: [bob], cidrs: fixture.cidrs))
        let status = TraversalStatus(natType: .portPreserving, peers: [
            bob.publicKey.base64: .init(path: .unreachableDirect, natType: .symmetric,
                                        reason: "NAT types port-preserving and symmetric"),
        ])
        let text = ShowReport.render(network: "evilcorp", config: fixture.config, device: device, cache: cache,
                                     traversal: status, short: false, tree: false, now: now)
        #expect(text.contains("    nat type: port-preserving\n"))
        #expect(text.contains("    path: unreachable-direct (NAT types port-preserving and symmetric)\n    nat type: symmetric"))
        let short = ShowReport.render(network: "evilcorp", config: fixture.config, device: device, cache: cache,
                                      traversal: status, short: true, tree: false, now: now)
        #expect(short.contains("handshake never path unreachable-direct nat symmetric"))
    }

    @Test func jsonCarriesEveryFieldOfTheTextForScripts() throws {
        let bob = bob
        let device = Device(name: "evilcorp", publicKey: fixture.ownKey.publicKey, listenPort: 51820, peers: [
            Peer(publicKey: bob.publicKey, endpoint: Endpoint("127.0.0.1:40001"), allowedIPs: [IPNetwork("10.66.1.3/32")!],
                 lastHandshake: now.addingTimeInterval(-5), rxBytes: 2048, txBytes: 100),
        ])
        let cache = PeerCache(state: API.State(peers: [bob, fixture.peer(2, "me", "10.66.1.2", key: fixture.ownKey.publicKey)],
                                               cidrs: fixture.cidrs))
        let status = TraversalStatus(natType: .symmetric, peers: [
            bob.publicKey.base64: .init(path: .relayed, endpoint: Endpoint("198.18.0.31:51821"), natType: .udpBlocked,
                                        reason: "NAT types symmetric and udp-blocked", relay: "relaykey"),
        ])
        let view = ShowReport.snapshot(network: "evilcorp", config: fixture.config, device: device, cache: cache, traversal: status)
        #expect(view.up && view.networkCidr == "10.66.0.0/16")
        #expect(view.thisPeer == .init(name: "me", ip: "10.66.1.2", publicKey: fixture.ownKey.publicKey, listeningPort: 51820,
                                       natType: .symmetric))
        #expect(view.peers == [.init(name: "bob", ip: "10.66.1.3", cidrId: bob.cidrId, publicKey: bob.publicKey,
                                     endpoint: Endpoint("127.0.0.1:40001"), path: .relayed, relay: "relaykey",
                                     relayEndpoint: Endpoint("198.18.0.31:51821"),
                                     natType: .udpBlocked, reason: "NAT types symmetric and udp-blocked",
                                     timeToHandshake: nil, rtt: nil, loss: nil, lastHandshake: now.addingTimeInterval(-5),
                                     rxBytes: 2048, txBytes: 100)])
        let text = ShowReport.render(view, cidrs: fixture.cidrs, short: false, tree: false, now: now)
        #expect(text.contains("    endpoint: 127.0.0.1:40001\n    path: relayed through relay 198.18.0.31:51821 (relaykey)"))
        #expect(text.contains("    rtt:") == false)
        let short = ShowReport.render(view, cidrs: fixture.cidrs, short: true, tree: false, now: now)
        #expect(short.contains("path relayed via 198.18.0.31:51821 nat udp-blocked"))
        let json = try ScriptJSON.encode([view], single: true)
        #expect(json.contains("\"path\" : \"relayed\""))
        #expect(json.contains("\"natType\" : \"udp-blocked\""))
        #expect(!json.contains(fixture.ownKey.base64))
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        #expect(try decoder.decode(ShowReport.Network.self, from: Data(json.utf8)) == view)
        #expect(try decoder.decode([ShowReport.Network].self, from: Data(ScriptJSON.encode([view, view], single: false).utf8)).count == 2)
    }

    @Test func treeGroupsPeersUnderTheirCidr() {
        let bob = bob
        let device = Device(name: "evilcorp", peers: [
            Peer(publicKey: bob.publicKey, allowedIPs: [IPNetwork("10.66.1.3/32")!]),
            Peer(publicKey: fixture.serverKey, allowedIPs: [IPNetwork("10.66.0.1/32")!]),
        ])
        let cache = PeerCache(state: API.State(peers: [bob], cidrs: fixture.cidrs))
        let lines = ShowReport.render(network: "evilcorp", config: fixture.config, device: device, cache: cache,
                                      short: true, tree: true, now: now).split(separator: "\n").map(String.init)
        #expect(Array(lines.suffix(5)) == [
            "  10.66.0.0/16 evilcorp",
            "    10.66.0.0/24 infra",
            "    10.66.1.0/24 humans",
            "      bob 10.66.1.3 endpoint - handshake never",
            "  formnet-server 10.66.0.1 endpoint - handshake never",
        ])
    }

    @Test func cidrTreeNestsChildrenInAddressOrder() {
        let cidrs = [fixture.cidrs[2], fixture.cidrs[0], fixture.cidrs[1],
                     Cidr(id: 4, name: "ops", cidr: IPNetwork("10.66.1.128/25")!, parent: 3)]
        #expect(CidrTree.render(cidrs) == [
            "10.66.0.0/16 evilcorp", "  10.66.0.0/24 infra", "  10.66.1.0/24 humans", "    10.66.1.128/25 ops",
        ])
    }
}
