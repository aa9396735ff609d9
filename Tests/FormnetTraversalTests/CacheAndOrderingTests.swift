import FormnetKit
import Foundation
import Testing
import WireGuard
@testable import FormnetTraversal

@Suite struct CandidateOrderingTests {
    let reflexive = Candidate(endpoint: Endpoint("198.18.0.21:51820")!, kind: .serverReflexive)
    let lan = Candidate(endpoint: Endpoint("192.168.21.3:51820")!, kind: .private)
    let pub = Candidate(endpoint: Endpoint("198.18.0.40:51820")!, kind: .public)
    let override = Candidate(endpoint: Endpoint("198.18.0.41:4000")!, kind: .override)

    @Test func defaultOrderPrefersOverrideThenReflexiveThenHostAddresses() {
        #expect(CandidateOrdering.order([lan, pub, reflexive, override]) == [override, reflexive, pub, lan])
    }

    @Test func sameNatPutsTheLanFirst() {
        #expect(CandidateOrdering.order([reflexive, pub, lan], samePublicAddress: true) == [lan, reflexive, pub])
    }

    @Test func whatWorkedBeforeGoesFirstAndWhatFailedGoesLast() {
        var worked = EndpointStats(kind: .public)
        worked.recordSuccess(at: 1000, timeToHandshake: 0.2)
        var failed = EndpointStats(kind: .serverReflexive)
        failed.recordFailure(at: 1000)
        let ordered = CandidateOrdering.order([reflexive, lan, pub], cache: [pub.endpoint: worked, reflexive.endpoint: failed], now: 1100)
        #expect(ordered == [pub, lan, reflexive])
    }

    @Test func excludedNetworksAndDuplicatesAreDropped() {
        let again = Candidate(endpoint: reflexive.endpoint, kind: .public)
        let relayed = Candidate(endpoint: Endpoint("198.18.0.99:1")!, kind: .relayed)
        #expect(CandidateOrdering.order([reflexive, again, lan, relayed], excluded: [IPNetwork("192.168.0.0/16")!]) == [reflexive])
    }
}

@Suite struct ConnectionCacheTests {
    let peer = PrivateKey.generate().publicKey
    let endpoint = Endpoint("198.18.0.21:51820")!

    @Test func scoresRiseWithSuccessFadeWithAgeAndFallWithFailure() {
        var s = EndpointStats(kind: .serverReflexive)
        #expect(s.score(now: 0) == 0)
        s.recordSuccess(at: 0, timeToHandshake: 0.4)
        let fresh = s.score(now: 0)
        #expect(fresh > 0)
        #expect(s.score(now: EndpointStats.halfLife) < fresh)
        #expect(abs(s.score(now: EndpointStats.halfLife) - fresh / 2) < 0.01)
        s.recordProbe(rtt: 0.5, lost: false)
        #expect(s.score(now: 0) < fresh)
        s.recordFailure(at: 10)
        #expect(s.score(now: 10) < 0)
        s.recordSuccess(at: 20, timeToHandshake: 0.2)
        #expect(s.score(now: 20) > 0)
        #expect(abs(s.timeToHandshake! - (0.4 + 0.3 * (0.2 - 0.4))) < 1e-9)
    }

    @Test func boundedPerPeerAndInPeers() {
        var cache = ConnectionCache()
        for port in 1...(ConnectionCache.maxEndpointsPerPeer + 3) {
            cache.update(peer: peer, endpoint: Endpoint(address: IPAddress("198.18.0.1")!, port: UInt16(port)),
                         kind: .public, now: Double(port)) { $0.recordSuccess(at: Double(port), timeToHandshake: nil) }
        }
        let kept = cache.stats(for: peer)
        #expect(kept.count == ConnectionCache.maxEndpointsPerPeer)
        // The oldest successes were evicted first.
        #expect(kept.keys.map(\.port).min() == 4)
        for i in 0..<(ConnectionCache.maxPeers + 5) {
            cache.update(peer: PrivateKey.generate().publicKey, endpoint: endpoint, kind: .public, now: Double(100 + i)) { _ in }
        }
        #expect(cache.peerCount == ConnectionCache.maxPeers)
        #expect(cache.stats(for: peer).isEmpty)
    }

    @Test func persistsAndSurvivesCorruption() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("formnet-cache-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/net.connections.json"
        var cache = ConnectionCache()
        cache.update(peer: peer, endpoint: endpoint, kind: .serverReflexive, now: 5) {
            $0.recordSuccess(at: 5, timeToHandshake: 0.3)
            $0.recordProbe(rtt: 0.01, lost: false)
        }
        try cache.save(to: path)
        var warnings: [String] = []
        #expect(ConnectionCache.load(from: path) { warnings.append($0) } == cache)
        #expect(warnings.isEmpty)
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: path))
        #expect(ConnectionCache.load(from: path) { warnings.append($0) } == ConnectionCache())
        #expect(warnings.count == 1 && warnings[0].contains("corrupt"))
        #expect(ConnectionCache.load(from: "\(dir)/absent.json") { warnings.append($0) } == ConnectionCache())
        #expect(warnings.count == 1)
    }
}
