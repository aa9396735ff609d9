import Foundation
import FormnetKit
import Testing
import WireGuard
@testable import FormnetAgent

@Suite struct PeerCacheTests {
    let fixture = Fixture()

    @Test func roundTripsThroughTheFile() throws {
        let dir = try fixture.temporaryDirectory()
        let path = dir + "/evilcorp.json"
        let bob = fixture.peer(3, "bob", "10.66.1.3", endpoint: "198.51.100.3:51820")
        let cache = PeerCache(state: API.State(peers: [bob], cidrs: fixture.cidrs), pinnedKeys: ["10.66.1.3": bob.publicKey])
        try cache.save(to: path)
        var warnings: [String] = []
        #expect(PeerCache.load(from: path) { warnings.append($0) } == cache)
        #expect(warnings.isEmpty)
        #expect(cache.endpoints == [bob.publicKey: Endpoint("198.51.100.3:51820")!])
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func missingCacheIsEmptyWithoutWarning() throws {
        var warnings: [String] = []
        #expect(PeerCache.load(from: try fixture.temporaryDirectory() + "/none.json") { warnings.append($0) } == PeerCache())
        #expect(warnings.isEmpty)
    }

    @Test func corruptCacheWarnsAndStartsEmpty() throws {
        let path = try fixture.temporaryDirectory() + "/evilcorp.json"
        try "{\"state\": [".write(toFile: path, atomically: true, encoding: .utf8)
        var warnings: [String] = []
        #expect(PeerCache.load(from: path) { warnings.append($0) } == PeerCache())
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains(path) == true)
    }
}
