import FormnetKit
import Foundation
import GRDB
import Testing
import WireGuard
@testable import FormnetServer

/// alice (office) and bob (lab, not associated with office) announce relays; carol stays out.
struct RelayNetwork {
    let net: TestNetwork
    let office: Cidr
    let lab: Cidr
    let alice: NetworkPeer
    let bob: NetworkPeer
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let aliceRelay = PrivateKey.generate().publicKey
    let bobRelay = PrivateKey.generate().publicKey

    init() throws {
        net = try TestNetwork()
        office = try net.cidr("office", "10.66.1.0/24", parent: net.root)
        lab = try net.cidr("lab", "10.66.2.0/24", parent: net.root)
        alice = try net.peer("alice", "10.66.1.2", in: office)
        bob = try net.peer("bob", "10.66.2.2", in: lab)
        try net.peer("carol", "10.66.1.3", in: office)
        try net.store.recordObservedEndpoints([alice.publicKey: Endpoint("198.51.100.2:40000")!,
                                               bob.publicKey: Endpoint("198.51.100.3:40001")!])
    }

    func announcement(_ key: PublicKey, port: UInt16 = 51821, endpoint: String? = nil, location: GeoLocation? = nil,
                      capacity: Int = 100, load: Int = 0) -> API.RelayAnnouncement {
        API.RelayAnnouncement(publicKey: key, port: port, endpoint: endpoint.flatMap(Endpoint.init), location: location,
                              capacity: capacity, load: load)
    }

    func announce(_ body: API.RelayAnnouncement, from ip: String, at now: Date) -> APIResponse {
        net.service(now: now).announceRelay(net.request(from: ip, body: json(body)))
    }

    func state(for ip: String, at now: Date) throws -> (state: API.State, etag: String?) {
        let response = net.service(now: now).state(net.request(from: ip))
        #expect(response.status == 200)
        return (try decoded(API.State.self, response), response.etag)
    }
}

@Suite struct RelayStoreTests {
    let r: RelayNetwork
    init() throws { r = try RelayNetwork() }

    @Test func announcementRoundTripAndReplace() throws {
        let location = GeoLocation(latitude: 48.85, longitude: 2.35, country: "FR")
        let first = r.announcement(r.aliceRelay, endpoint: "203.0.113.9:3478", location: location, capacity: 50, load: 3)
        try r.net.store.announceRelay(peerID: r.alice.id, first, now: r.t0)
        #expect(try r.net.store.snapshot().relays == [StoredRelay(peerId: r.alice.id, announcement: first, lastSeen: r.t0)])

        // One relay per member: a new announcement replaces the old one, whatever its key.
        let newKey = PrivateKey.generate().publicKey
        let second = r.announcement(newKey, port: 51900)
        try r.net.store.announceRelay(peerID: r.alice.id, second, now: r.t0.addingTimeInterval(60))
        let stored = try r.net.store.snapshot().relays
        #expect(stored == [StoredRelay(peerId: r.alice.id, announcement: second, lastSeen: r.t0.addingTimeInterval(60))])
        #expect(stored.first?.announcement.endpoint == nil && stored.first?.announcement.location == nil)

        try r.net.store.withdrawRelay(peerID: r.alice.id)
        try r.net.store.withdrawRelay(peerID: r.alice.id)
        #expect(try r.net.store.snapshot().relays == [])
    }

    @Test func aRelayOfADeletedPeerGoesWithIt() throws {
        let invited = try r.net.peer("invited", "10.66.1.9", in: r.office, redeemed: false, expires: r.t0)
        try r.net.store.announceRelay(peerID: invited.id, r.announcement(r.aliceRelay, endpoint: "203.0.113.9:51821"), now: r.t0)
        try r.net.store.setCandidates(peerID: invited.id, [], relays: [r.bobRelay])
        #expect(try r.net.store.snapshot().relays.map(\.peerId) == [invited.id])
        #expect(try r.net.store.deleteExpiredInvitations(now: r.t0.addingTimeInterval(1)).map(\.name) == ["invited"])
        #expect(try r.net.store.snapshot().relays == [])
        // The reported list went too: a new peer with the same id would not inherit it.
        #expect(try r.net.store.peers().allSatisfy { $0.relays.isEmpty })
    }

    @Test func expiry() throws {
        try r.net.store.announceRelay(peerID: r.alice.id, r.announcement(r.aliceRelay), now: r.t0)
        try r.net.store.announceRelay(peerID: r.bob.id, r.announcement(r.bobRelay), now: r.t0.addingTimeInterval(100))
        let limit = r.t0.addingTimeInterval(180)
        #expect(try r.net.store.deleteExpiredRelays(now: limit) == [])
        #expect(Visibility.relays(in: try r.net.store.snapshot(), now: limit).map(\.publicKey) == [r.aliceRelay, r.bobRelay])
        let past = r.t0.addingTimeInterval(181)
        #expect(Visibility.relays(in: try r.net.store.snapshot(), now: past).map(\.publicKey) == [r.bobRelay])
        let expired = try r.net.store.deleteExpiredRelays(now: past)
        #expect(expired.map(\.peerId) == [r.alice.id])
        #expect(expired.map(\.announcement.publicKey) == [r.aliceRelay])
        #expect(try r.net.store.snapshot().relays.map(\.peerId) == [r.bob.id])
    }

    @Test func aLiveRelayKeyBelongsToItsFirstAnnouncer() throws {
        try r.net.store.announceRelay(peerID: r.alice.id, r.announcement(r.aliceRelay), now: r.t0)
        let taken = storeError { try r.net.store.announceRelay(peerID: r.bob.id, r.announcement(r.aliceRelay), now: r.t0) }
        #expect(taken == StoreError(.conflict, "relay key \(r.aliceRelay.base64) is already announced by peer 'alice'"))
        // Once alice's announcement expired, bob may take the key over.
        try r.net.store.announceRelay(peerID: r.bob.id, r.announcement(r.aliceRelay), now: r.t0.addingTimeInterval(181))
        #expect(try r.net.store.snapshot().relays.map(\.peerId) == [r.bob.id])
        // A relay key equal to a member's WireGuard key is no conflict: it may well be the same key.
        try r.net.store.announceRelay(peerID: r.alice.id, r.announcement(r.alice.publicKey), now: r.t0.addingTimeInterval(181))
        #expect(try r.net.store.snapshot().relays.count == 2)
    }

    @Test func reportedRelaysHomeFirstAndBounded() throws {
        let keys = (0..<API.maxReportedRelays).map { _ in PrivateKey.generate().publicKey }
        try r.net.store.setCandidates(peerID: r.alice.id, [], relays: keys)
        #expect(try r.net.store.peer(id: r.alice.id)?.relays == keys)
        // nil leaves the list alone; an empty list clears it.
        try r.net.store.setCandidates(peerID: r.alice.id, [Endpoint("192.168.1.2:51820")!])
        #expect(try r.net.store.peer(id: r.alice.id)?.relays == keys)
        let tooMany = storeError { try r.net.store.setCandidates(peerID: r.alice.id, [], relays: keys + [r.bobRelay]) }
        #expect(tooMany == StoreError(.invalid, "5 relays is more than the limit of 4"))
        let twice = storeError { try r.net.store.setCandidates(peerID: r.alice.id, [], relays: [r.bobRelay, r.bobRelay]) }
        #expect(twice == StoreError(.invalid, "relay \(r.bobRelay.base64) is reported twice"))
        #expect(try r.net.store.peer(id: r.alice.id)?.relays == keys)
        try r.net.store.setCandidates(peerID: r.alice.id, [], relays: [])
        #expect(try r.net.store.peer(id: r.alice.id)?.relays == [])
    }
}

@Suite struct RelayMigrationTests {
    @Test func aVersion2DatabaseGainsRelays() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fnsrv-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/n.db"
        let key = PrivateKey.generate().publicKey
        do {
            let queue = try DatabaseQueue(path: path)
            try StoreMigrations.migrator.migrate(queue, upTo: "v2-peer-nat-type")
            try queue.write { db in
                try db.execute(sql: "INSERT INTO cidrs (id, name, cidr, parent) VALUES (1, 'n', '10.1.0.0/16', NULL)")
                try db.execute(sql: """
                    INSERT INTO peers (id, name, ip, cidr_id, public_key, endpoint, is_redeemed, nat_type)
                    VALUES (7, 'old', '10.1.0.7', 1, ?, '192.0.2.7:51820', 1, 'symmetric')
                    """, arguments: [key.base64])
                try db.execute(sql: "INSERT INTO candidates (peer_id, position, endpoint) VALUES (7, 0, '192.168.0.7:51820')")
            }
        }
        let store = try Store(path: path)
        #expect(try store.appliedMigrations() == ["v1-peers-cidrs-associations-candidates", "v2-peer-nat-type", "v3-relays"])
        #expect(try store.appliedMigrations() == Store.latestMigrations)
        let old = try #require(try store.peer(id: 7))
        #expect(old.publicKey == key && old.natType == .symmetric && old.candidates == [Endpoint("192.168.0.7:51820")!])
        #expect(old.relays == [])
        #expect(try store.snapshot().relays == [])

        let relayKey = PrivateKey.generate().publicKey
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let announced = API.RelayAnnouncement(publicKey: relayKey, port: 51821, capacity: 10, load: 1)
        try store.announceRelay(peerID: 7, announced, now: now)
        try store.setCandidates(peerID: 7, [], relays: [relayKey])
        let reopened = try Store(path: path)
        #expect(try reopened.snapshot().relays == [StoredRelay(peerId: 7, announcement: announced, lastSeen: now)])
        #expect(try reopened.peer(id: 7)?.relays == [relayKey])
    }
}

@Suite struct RelayVisibilityTests {
    let r: RelayNetwork
    init() throws { r = try RelayNetwork() }

    @Test func relaysAreSeenAcrossCidrsWithTheirEndpoints() throws {
        #expect(r.announce(r.announcement(r.aliceRelay, port: 51821, capacity: 100, load: 7), from: "10.66.1.2", at: r.t0).status == 204)
        let location = GeoLocation(latitude: -33.87, longitude: 151.21, country: "AU")
        #expect(r.announce(r.announcement(r.bobRelay, endpoint: "203.0.113.50:443", location: location, capacity: 5, load: 5),
                           from: "10.66.2.2", at: r.t0).status == 204)
        let expected = [
            // No explicit endpoint: alice's observed address with the announced port.
            NetworkRelay(publicKey: r.aliceRelay, endpoint: Endpoint("198.51.100.2:51821")!, capacity: 100, load: 7,
                         peerId: r.alice.id, lastSeen: r.t0),
            NetworkRelay(publicKey: r.bobRelay, endpoint: Endpoint("203.0.113.50:443")!, location: location, capacity: 5, load: 5,
                         peerId: r.bob.id, lastSeen: r.t0),
        ]
        // carol (office) does not see bob (lab), but sees his relay; bob sees alice's.
        let carol = try r.state(for: "10.66.1.3", at: r.t0).state
        #expect(!carol.peers.map(\.name).contains("bob"))
        #expect(carol.relays == expected)
        #expect(try r.state(for: "10.66.2.2", at: r.t0).state.relays == expected)
    }

    @Test func aDisabledMembersRelayIsHidden() throws {
        #expect(r.announce(r.announcement(r.aliceRelay), from: "10.66.1.2", at: r.t0).status == 204)
        #expect(r.announce(r.announcement(r.bobRelay), from: "10.66.2.2", at: r.t0).status == 204)
        var disabled = try #require(try r.net.store.peer(id: r.bob.id)).contents
        disabled.isDisabled = true
        try r.net.store.updatePeer(id: r.bob.id, to: disabled)
        #expect(try r.state(for: "10.66.1.3", at: r.t0).state.relays.map(\.publicKey) == [r.aliceRelay])
        // Enabled again, it is back while the announcement lives.
        disabled.isDisabled = false
        try r.net.store.updatePeer(id: r.bob.id, to: disabled)
        #expect(try r.state(for: "10.66.1.3", at: r.t0).state.relays.map(\.publicKey) == [r.aliceRelay, r.bobRelay])
    }

    @Test func theEndpointFollowsTheMember() throws {
        #expect(r.announce(r.announcement(r.aliceRelay, port: 51821), from: "10.66.1.2", at: r.t0).status == 204)
        try r.net.store.recordObservedEndpoints([r.alice.publicKey: Endpoint("198.51.100.99:40000")!])
        #expect(try r.state(for: "10.66.1.3", at: r.t0).state.relays.map(\.endpoint) == [Endpoint("198.51.100.99:51821")!])
        try r.net.store.setEndpointOverride(peerID: r.alice.id, Endpoint("[2001:db8::2]:51820")!)
        #expect(try r.state(for: "10.66.1.3", at: r.t0).state.relays.map(\.endpoint) == [Endpoint("[2001:db8::2]:51821")!])
        // An explicit endpoint wins over the member's.
        #expect(r.announce(r.announcement(r.aliceRelay, endpoint: "203.0.113.8:3478"), from: "10.66.1.2", at: r.t0).status == 204)
        #expect(try r.state(for: "10.66.1.3", at: r.t0).state.relays.map(\.endpoint) == [Endpoint("203.0.113.8:3478")!])
    }

    @Test func membersReportedRelaysAreInTheirPeerEntries() throws {
        let report = API.Candidates(candidates: [], relays: [r.bobRelay, r.aliceRelay])
        #expect(r.net.service(now: r.t0).setCandidates(r.net.request(from: "10.66.1.2", body: json(report))).status == 204)
        let peers = try r.state(for: "10.66.1.3", at: r.t0).state.peers
        #expect(peers.first { $0.name == "alice" }?.relays == [r.bobRelay, r.aliceRelay])
        #expect(peers.first { $0.name == "carol" }?.relays == [])
    }
}

@Suite struct RelayRouteTests {
    let r: RelayNetwork
    init() throws { r = try RelayNetwork() }

    @Test func badAnnouncementsAre400() throws {
        let refusals: [(API.RelayAnnouncement, String)] = [
            (r.announcement(r.aliceRelay, port: 0), "the relay port must not be 0"),
            (r.announcement(r.aliceRelay, endpoint: "203.0.113.8:0"), "the relay endpoint 203.0.113.8:0 has port 0"),
            (r.announcement(r.aliceRelay, capacity: 0), "the relay capacity must be at least 1, not 0"),
            (r.announcement(r.aliceRelay, load: -1), "the relay load must not be negative, not -1"),
            (r.announcement(r.aliceRelay, location: GeoLocation(latitude: 90.5, longitude: 0)),
             "the relay location 90.5,0.0 is not on the globe (latitude -90…90, longitude -180…180)"),
            (r.announcement(r.aliceRelay, location: GeoLocation(latitude: 0, longitude: -180.01)),
             "the relay location 0.0,-180.01 is not on the globe (latitude -90…90, longitude -180…180)"),
            (r.announcement(r.aliceRelay, location: GeoLocation(latitude: 0, longitude: 0, country: "FRA")),
             "the relay country 'FRA' is not a two-letter ISO 3166-1 code"),
        ]
        for (body, reason) in refusals {
            let response = r.announce(body, from: "10.66.1.2", at: r.t0)
            #expect(response.status == 400)
            #expect(response.errorReason == reason)
        }
        let garbage = r.net.service().announceRelay(r.net.request(from: "10.66.1.2", body: Data(#"{"publicKey":"x"}"#.utf8)))
        #expect(garbage.status == 400)
        #expect(garbage.errorReason?.hasPrefix("invalid RelayAnnouncement body") == true)
        #expect(try r.net.store.snapshot().relays == [])
        // The edges of the globe and of the limits are fine.
        let edge = r.announcement(r.aliceRelay, location: GeoLocation(latitude: -90, longitude: 180, country: "AQ"), capacity: 1, load: 0)
        #expect(r.announce(edge, from: "10.66.1.2", at: r.t0).status == 204)
    }

    @Test func noEndpointAnywhereIs409() throws {
        let dave = try r.net.peer("dave", "10.66.1.4", in: r.office)
        #expect(dave.endpoint == nil)
        let response = r.announce(r.announcement(r.aliceRelay), from: "10.66.1.4", at: r.t0)
        #expect(response.status == 409)
        #expect(response.errorReason == "the server has not observed this member's public address yet; give --endpoint")
        #expect(r.announce(r.announcement(r.aliceRelay, endpoint: "203.0.113.8:51821"), from: "10.66.1.4", at: r.t0).status == 204)
    }

    @Test func withdrawAndAccess() throws {
        #expect(r.announce(r.announcement(r.aliceRelay), from: "10.66.1.2", at: r.t0).status == 204)
        let api = r.net.service(now: r.t0)
        #expect(api.withdrawRelay(r.net.request(from: "10.66.1.2")).status == 204)
        #expect(api.withdrawRelay(r.net.request(from: "10.66.1.2")).status == 204)
        #expect(try r.net.store.snapshot().relays == [])
        try r.net.peer("invited", "10.66.1.9", in: r.office, redeemed: false, expires: Date().addingTimeInterval(600))
        let invitee = r.announce(r.announcement(r.bobRelay, endpoint: "203.0.113.8:51821"), from: "10.66.1.9", at: Date())
        #expect(invitee.status == 403)
        #expect(r.net.service().withdrawRelay(r.net.request(from: "10.66.1.9")).status == 403)
    }

    @Test func tooManyReportedRelaysIs400() throws {
        let keys = (0...API.maxReportedRelays).map { _ in PrivateKey.generate().publicKey }
        let report = API.Candidates(candidates: [], relays: keys)
        let response = r.net.service().setCandidates(r.net.request(from: "10.66.1.2", body: json(report)))
        #expect(response.status == 400)
        #expect(response.errorReason == "5 relays is more than the limit of 4")
        #expect(try r.net.store.peer(id: r.alice.id)?.relays == [])
    }

    @Test func relaysAreAFeature() {
        #expect(APIService.features.contains("relays"))
    }
}

/// The state's ETag wakes held requests for what members act on, not for every renewal.
@Suite struct RelayStateTagTests {
    let r: RelayNetwork
    init() throws { r = try RelayNetwork() }

    @Test func aSameContentRenewalKeepsTheTag() throws {
        #expect(r.announce(r.announcement(r.aliceRelay, capacity: 10, load: 2), from: "10.66.1.2", at: r.t0).status == 204)
        let (before, tag) = try r.state(for: "10.66.1.3", at: r.t0)
        let later = r.t0.addingTimeInterval(60)
        #expect(r.announce(r.announcement(r.aliceRelay, capacity: 10, load: 3), from: "10.66.1.2", at: later).status == 204)
        let (after, renewedTag) = try r.state(for: "10.66.1.3", at: later)
        // The body carries the new load and time, the tag stays.
        #expect(after.relays.map(\.load) == [3] && after.relays.map(\.lastSeen) == [later])
        #expect(before != after)
        #expect(renewedTag == tag)
        #expect(tag?.hasPrefix("W/\"") == true)
    }

    @Test func theTagChangesWithWhatMembersActOn() throws {
        var tags: Set<String> = []
        func record(at now: Date) throws {
            let tag = try #require(try r.state(for: "10.66.1.3", at: now).etag)
            #expect(tags.insert(tag).inserted)
        }
        try record(at: r.t0)
        // A new relay.
        #expect(r.announce(r.announcement(r.aliceRelay, capacity: 10, load: 2), from: "10.66.1.2", at: r.t0).status == 204)
        try record(at: r.t0)
        // It turns full.
        #expect(r.announce(r.announcement(r.aliceRelay, capacity: 10, load: 10), from: "10.66.1.2", at: r.t0).status == 204)
        try record(at: r.t0)
        // Its endpoint changes.
        #expect(r.announce(r.announcement(r.aliceRelay, endpoint: "203.0.113.8:3478", capacity: 10, load: 10),
                           from: "10.66.1.2", at: r.t0).status == 204)
        try record(at: r.t0)
        // A member the caller sees reports its relays.
        let report = API.Candidates(candidates: [], relays: [r.aliceRelay])
        #expect(r.net.service().setCandidates(r.net.request(from: "10.66.1.2", body: json(report))).status == 204)
        try record(at: r.t0)
        // The relay disappears: by expiry, and with the same view by withdrawal.
        try record(at: r.t0.addingTimeInterval(181))
        #expect(r.net.service().withdrawRelay(r.net.request(from: "10.66.1.2")).status == 204)
        let expired = try r.state(for: "10.66.1.3", at: r.t0.addingTimeInterval(181)).etag
        let withdrawn = try r.state(for: "10.66.1.3", at: r.t0).etag
        #expect(withdrawn == expired)
        #expect(tags.count == 6)
    }

    /// Over HTTP: a renewal wakes the held request's check but answers nothing; a new relay does.
    @Test func heldStateSleepsThroughRenewals() async throws {
        let net = try TestNetwork(root: "127.0.0.0/8", serverIP: "127.0.0.1")
        let alice = try net.peer("alice", "127.0.0.2", in: net.root)
        try net.peer("bob", "127.0.0.3", in: net.root)
        try net.store.recordObservedEndpoints([alice.publicKey: Endpoint("198.51.100.2:40000")!])
        let (port, server) = try await serveOnLoopback(net)
        defer { server.cancel() }
        let key = "X-Formnet-Server-Key: \(net.serverKey.base64)"
        let relayKey = PrivateKey.generate().publicKey
        let announce = { @Sendable (load: Int) throws -> Int in
            let body = String(decoding: json(API.RelayAnnouncement(publicKey: relayKey, port: 51821, capacity: 10, load: load)), as: UTF8.self)
            return try RawHTTP.send("POST \(API.Path.relay)", headers: [key, "Content-Type: application/json"], body: body,
                                    from: "127.0.0.2", port: port).status
        }
        #expect(try await offPool { try announce(1) } == 204)
        let first = try await offPool { try RawHTTP.send("GET \(API.Path.state)", headers: [key], from: "127.0.0.3", port: port) }
        let tag = try #require(first.headers["etag"])

        let held = Task {
            try await offPool { try RawHTTP.send("GET \(API.Path.state)?wait=2", headers: [key, "If-None-Match: \(tag)"], from: "127.0.0.3", port: port) }
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await offPool { try announce(2) } == 204)
        let unchanged = try await held.value
        #expect(unchanged.status == 304)
        #expect(unchanged.headers["etag"] == tag)

        let woken = Task {
            try await offPool { try RawHTTP.send("GET \(API.Path.state)?wait=30", headers: [key, "If-None-Match: \(tag)"], from: "127.0.0.3", port: port) }
        }
        try await Task.sleep(for: .milliseconds(300))
        let body = String(decoding: json(API.RelayAnnouncement(publicKey: PrivateKey.generate().publicKey, port: 51821,
                                                               endpoint: Endpoint("203.0.113.8:51821"), capacity: 10, load: 0)), as: UTF8.self)
        let bobAnnounced = try await offPool {
            try RawHTTP.send("POST \(API.Path.relay)", headers: [key, "Content-Type: application/json"], body: body, from: "127.0.0.3", port: port)
        }
        #expect(bobAnnounced.status == 204)
        let answer = try await woken.value
        #expect(answer.status == 200)
        #expect(answer.headers["etag"] != tag)
        #expect(try API.decoder().decode(API.State.self, from: answer.body).relays.count == 2)
    }
}
