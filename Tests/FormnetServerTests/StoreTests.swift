import FormnetKit
import Foundation
import Testing
import WireGuard
@testable import FormnetServer

@Suite struct MigrationTests {
    @Test func freshDatabaseReachesLatestAndReopensIdempotently() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fnsrv-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/n.db"
        #expect(storeError { _ = try Store(path: path) }?.kind == .notFound)
        let first = try Store(path: path, create: true)
        #expect(try first.appliedMigrations() == Store.latestMigrations)
        try first.createNetwork(name: "n", root: IPNetwork("10.1.0.0/16")!, serverIP: IPAddress("10.1.0.1")!,
                                serverKey: PrivateKey.generate().publicKey, externalEndpoint: Endpoint("192.0.2.1:51820")!)
        let reopened = try Store(path: path)
        #expect(try reopened.appliedMigrations() == Store.latestMigrations)
        #expect(try reopened.peers().count == 1)
        #expect(try reopened.cidrs().map(\.name) == ["n", "formnet-server"])
    }
}

@Suite struct StoreInvariantTests {
    @Test func newNetworkLayout() throws {
        let net = try TestNetwork()
        #expect(net.root.cidr == IPNetwork("10.66.0.0/16"))
        #expect(net.root.parent == nil)
        #expect(net.infrastructure.cidr == IPNetwork("10.66.0.1/32"))
        #expect(net.infrastructure.parent == net.root.id)
        let server = try #require(try net.store.peer(ip: net.serverIP))
        #expect(server.isAdmin && server.isRedeemed && !server.isDisabled)
        #expect(server.publicKey == net.serverKey)
        #expect(server.endpoint == Endpoint("203.0.113.7:51820"))
        #expect(storeError {
            try net.store.createNetwork(name: "x", root: IPNetwork("10.9.0.0/16")!, serverIP: IPAddress("10.9.0.1")!,
                                        serverKey: PrivateKey.generate().publicKey, externalEndpoint: Endpoint("192.0.2.1:1")!)
        }?.kind == .conflict)
    }

    @Test func peerAddressRules() throws {
        let net = try TestNetwork()
        let humans = try net.cidr("humans", "10.66.1.0/24", parent: net.root)
        try net.peer("alice", "10.66.1.2", in: humans)
        #expect(storeError { try net.peer("bob", "10.66.2.2", in: humans) }?.description == "10.66.2.2 is outside CIDR 'humans' (10.66.1.0/24)")
        #expect(storeError { try net.peer("bob", "10.66.1.0", in: humans) }?.kind == .invalid)
        #expect(storeError { try net.peer("bob", "10.66.1.255", in: humans) }?.kind == .invalid)
        #expect(storeError { try net.peer("bob", "10.66.1.2", in: humans) }?.description == "10.66.1.2 is taken by peer 'alice'")
        #expect(storeError { try net.peer("alice", "10.66.1.3", in: humans) }?.description == "a peer named 'alice' already exists")
        #expect(storeError { try net.peer("Bad_Name", "10.66.1.3", in: humans) }?.kind == .invalid)
        #expect(storeError { try net.peer("bob", "10.66.1.3", in: humans, key: net.serverKey) }?.kind == .conflict)
        #expect(storeError { try net.peer("bob", "10.66.1.3", in: net.root) }?.description
            == "10.66.1.3 lies in sub-CIDR 'humans' (10.66.1.0/24); add the peer there")
        #expect(try net.store.peers().count == 2)
    }

    @Test func firstFreeAddressSkipsTakenAndSubCidrs() throws {
        let net = try TestNetwork()
        let humans = try net.cidr("humans", "10.66.1.0/24", parent: net.root)
        #expect(try net.store.firstFreeIP(cidrID: humans.id) == IPAddress("10.66.1.1"))
        try net.peer("alice", "10.66.1.1", in: humans)
        #expect(try net.store.firstFreeIP(cidrID: humans.id) == IPAddress("10.66.1.2"))
        let peer = try net.store.addPeer(
            API.PeerContents(name: "bob", ip: IPAddress("10.66.1.200")!, cidrId: humans.id, publicKey: PrivateKey.generate().publicKey),
            address: .firstFree)
        #expect(peer.ip == IPAddress("10.66.1.2"))
        // The root's first addresses are the network address and the server's infrastructure CIDR.
        #expect(try net.store.firstFreeIP(cidrID: net.root.id) == IPAddress("10.66.0.2"))
    }

    @Test func cidrTreeRules() throws {
        let net = try TestNetwork()
        let humans = try net.cidr("humans", "10.66.1.0/24", parent: net.root)
        #expect(storeError { try net.cidr("outside", "10.67.0.0/24", parent: net.root) }?.kind == .invalid)
        #expect(storeError { try net.cidr("same", "10.66.0.0/16", parent: net.root) }?.kind == .invalid)
        #expect(storeError { try net.cidr("hostbits", "10.66.2.1/24", parent: net.root) }?.description
            == "10.66.2.1/24 has host bits set; did you mean 10.66.2.0/24?")
        #expect(storeError { try net.cidr("overlap", "10.66.0.0/23", parent: net.root) }?.kind == .conflict)
        #expect(storeError { try net.cidr("humans", "10.66.2.0/24", parent: net.root) }?.kind == .conflict)
        #expect(storeError { try net.store.addCidr(API.CidrContents(name: "orphan", cidr: IPNetwork("10.66.2.0/24")!, parent: nil)) }?.kind == .invalid)
        #expect(storeError { try net.store.addCidr(API.CidrContents(name: "v6", cidr: IPNetwork("fd00::/64")!, parent: net.root.id)) }?.kind == .invalid)
        try net.peer("alice", "10.66.1.10", in: humans)
        #expect(storeError { try net.cidr("takes-alice", "10.66.1.8/29", parent: humans) }?.description
            == "10.66.1.8/29 covers 10.66.1.10, held by peer 'alice' of CIDR 'humans'")
        #expect(storeError { try net.cidr("low", "10.66.1.0/29", parent: humans) } == nil)
        #expect(storeError { try net.cidr("inside-low", "10.66.1.0/30", parent: humans) }?.kind == .conflict)
    }

    @Test func deletingCidrs() throws {
        let net = try TestNetwork()
        let humans = try net.cidr("humans", "10.66.1.0/24", parent: net.root)
        let team = try net.cidr("team", "10.66.1.0/28", parent: humans)
        let other = try net.cidr("other", "10.66.2.0/24", parent: net.root)
        try net.store.addAssociation(API.AssociationContents(cidrId1: other.id, cidrId2: team.id))
        #expect(storeError { try net.store.deleteCidr(id: humans.id) }?.description == "CIDR 'humans' still has 1 sub-CIDR(s)")
        #expect(storeError { try net.store.deleteCidr(id: net.root.id) }?.kind == .invalid)
        #expect(storeError { try net.store.deleteCidr(id: 999) }?.kind == .notFound)
        try net.peer("alice", "10.66.1.2", in: team)
        #expect(storeError { try net.store.deleteCidr(id: team.id) }?.description == "CIDR 'team' still has 1 peer(s)")
        try net.store.deleteCidr(id: other.id)
        #expect(try net.store.associations().isEmpty)
        #expect(try net.store.cidr(id: other.id) == nil)
    }

    @Test func updatingCidrOnlyRenames() throws {
        let net = try TestNetwork()
        let humans = try net.cidr("humans", "10.66.1.0/24", parent: net.root)
        let renamed = try net.store.updateCidr(id: humans.id, to: API.CidrContents(name: "people", cidr: humans.cidr, parent: humans.parent))
        #expect(renamed.name == "people")
        #expect(storeError { try net.store.updateCidr(id: humans.id, to: API.CidrContents(name: "people", cidr: IPNetwork("10.66.2.0/24")!, parent: net.root.id)) }?.kind == .invalid)
        #expect(storeError { try net.store.updateCidr(id: humans.id, to: API.CidrContents(name: "testnet", cidr: humans.cidr, parent: humans.parent)) }?.kind == .conflict)
    }

    @Test func associationRules() throws {
        let net = try TestNetwork()
        let a = try net.cidr("a", "10.66.1.0/24", parent: net.root)
        let b = try net.cidr("b", "10.66.2.0/24", parent: net.root)
        let association = try net.store.addAssociation(API.AssociationContents(cidrId1: b.id, cidrId2: a.id))
        #expect(association.cidrId1 == a.id && association.cidrId2 == b.id)
        #expect(storeError { try net.store.addAssociation(API.AssociationContents(cidrId1: a.id, cidrId2: b.id)) }?.kind == .conflict)
        #expect(storeError { try net.store.addAssociation(API.AssociationContents(cidrId1: a.id, cidrId2: a.id)) }?.kind == .invalid)
        #expect(storeError { try net.store.addAssociation(API.AssociationContents(cidrId1: a.id, cidrId2: 999)) }?.kind == .invalid)
        try net.store.deleteAssociation(id: association.id)
        #expect(storeError { try net.store.deleteAssociation(id: association.id) }?.kind == .notFound)
    }

    @Test func peerUpdatesKeepIdentityFixed() throws {
        let net = try TestNetwork()
        let alice = try net.peer("alice", "10.66.0.2", in: net.root)
        var contents = alice.contents
        contents.name = "alicia"
        contents.isAdmin = true
        contents.isDisabled = true
        contents.endpoint = Endpoint("198.51.100.1:51820")
        let updated = try net.store.updatePeer(id: alice.id, to: contents)
        #expect(updated.name == "alicia" && updated.isAdmin && updated.isDisabled && updated.endpoint == contents.endpoint)
        contents.ip = IPAddress("10.66.0.9")!
        contents.publicKey = PrivateKey.generate().publicKey
        #expect(storeError { try net.store.updatePeer(id: alice.id, to: contents) }?.description
            == "ip, publicKey of peer 'alicia' cannot be changed")
        #expect(storeError { try net.store.updatePeer(id: 999, to: contents) }?.kind == .notFound)
        #expect(try net.store.peer(id: alice.id)?.ip == IPAddress("10.66.0.2"))
    }

    @Test func redeemSwapsKeyOnce() throws {
        let net = try TestNetwork()
        let now = Date()
        let invited = try net.peer("alice", "10.66.0.2", in: net.root, redeemed: false, expires: now.addingTimeInterval(60))
        let newKey = PrivateKey.generate().publicKey
        #expect(storeError { _ = try net.store.redeem(peerID: invited.id, newKey: invited.publicKey, now: now) }?.kind == .invalid)
        #expect(storeError { _ = try net.store.redeem(peerID: invited.id, newKey: net.serverKey, now: now) }?.kind == .conflict)
        let (oldKey, peer) = try net.store.redeem(peerID: invited.id, newKey: newKey, now: now)
        #expect(oldKey == invited.publicKey)
        #expect(peer.publicKey == newKey && peer.isRedeemed && peer.inviteExpires == nil)
        #expect(storeError { _ = try net.store.redeem(peerID: invited.id, newKey: PrivateKey.generate().publicKey, now: now) }?.kind == .conflict)
        let late = try net.peer("bob", "10.66.0.3", in: net.root, redeemed: false, expires: now.addingTimeInterval(-1))
        #expect(storeError { _ = try net.store.redeem(peerID: late.id, newKey: PrivateKey.generate().publicKey, now: now) }?.kind == .invalid)
    }

    @Test func endpointsCandidatesAndSweep() throws {
        let net = try TestNetwork()
        let alice = try net.peer("alice", "10.66.0.2", in: net.root)
        let bob = try net.peer("bob", "10.66.0.3", in: net.root)
        try net.store.setEndpointOverride(peerID: bob.id, Endpoint("198.51.100.9:4000"))
        let seen = Endpoint("198.51.100.1:51820")!
        #expect(try net.store.recordObservedEndpoints([alice.publicKey: seen, bob.publicKey: seen]) == 1)
        #expect(try net.store.peer(id: alice.id)?.endpoint == seen)
        #expect(try net.store.peer(id: bob.id)?.endpoint == Endpoint("198.51.100.9:4000"))
        try net.store.setEndpointOverride(peerID: bob.id, nil)
        #expect(try net.store.recordObservedEndpoints([bob.publicKey: seen]) == 1)
        #expect(try net.store.peer(id: bob.id)?.endpoint == seen)

        let candidates = (1...3).map { Endpoint(address: .v4(0xC000_0200 + UInt32($0)), port: 51820) }
        try net.store.setCandidates(peerID: alice.id, candidates)
        #expect(try net.store.peer(id: alice.id)?.candidates == candidates)
        let tooMany = (0...API.maxCandidates).map { Endpoint(address: .v4(0xC000_0200 + UInt32($0)), port: 1) }
        #expect(storeError { try net.store.setCandidates(peerID: alice.id, tooMany) }?.kind == .invalid)
        #expect(try net.store.peer(id: alice.id)?.candidates == candidates)

        let now = Date()
        try net.peer("stale", "10.66.0.4", in: net.root, redeemed: false, expires: now.addingTimeInterval(-10))
        try net.peer("fresh", "10.66.0.5", in: net.root, redeemed: false, expires: now.addingTimeInterval(10))
        #expect(try net.store.deleteExpiredInvitations(now: now).map(\.name) == ["stale"])
        #expect(try net.store.peer(named: "fresh") != nil)
    }

    @Test func failedBeforeCommitLeavesNothing() throws {
        let net = try TestNetwork()
        struct Refused: Error {}
        #expect(throws: Refused.self) {
            try net.store.addPeer(API.PeerContents(name: "alice", ip: IPAddress("10.66.0.2")!, cidrId: net.root.id,
                                                   publicKey: PrivateKey.generate().publicKey)) { _ in throw Refused() }
        }
        #expect(try net.store.peer(named: "alice") == nil)
    }

    @Test func ipv6Network() throws {
        let net = try TestNetwork(root: "fd66::/64", serverIP: "fd66::1")
        #expect(net.infrastructure.cidr == IPNetwork("fd66::1/128"))
        let site = try net.cidr("site", "fd66::100/120", parent: net.root)
        let peer = try net.store.addPeer(API.PeerContents(name: "v6", ip: IPAddress("fd66::1")!, cidrId: site.id,
                                                          publicKey: PrivateKey.generate().publicKey), address: .firstFree)
        #expect(peer.ip == IPAddress("fd66::101"))
        #expect(storeError { try net.peer("x", "fd66::100", in: site) }?.kind == .invalid)
        #expect(storeError { try net.peer("y", "10.66.0.2", in: site) }?.kind == .invalid)
    }
}
