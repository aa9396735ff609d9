import Foundation
import RelayWire
import RelayServer
import Testing
import WireGuard

@Suite struct FileTests {
    private func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "formnet-relay-test-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func keyListSkipsCommentsBlanksAndJunk() {
        let text = "# members\n\n\(Fixture.keyA.base64)\n  \(Fixture.keyB.base64)  \nnot-a-key\n"
        let parsed = KeyListFile.parse(text)
        #expect(parsed.keys == [Fixture.keyA, Fixture.keyB])
        #expect(parsed.badLines == [5])
        #expect(KeyListFile.networkMembersPath(dataDirectory: "data", network: "office") == "data/office.members")
    }

    @Test func watcherReloadsOnlyWhenTheFileChanges() throws {
        let path = temporaryDirectory() + "/allow"
        try Data("\(Fixture.keyA.base64)\n".utf8).write(to: URL(fileURLWithPath: path))
        let watcher = KeyListWatcher(path: path)
        guard case .reloaded(let first) = watcher.poll() else { Issue.record("not loaded"); return }
        #expect(first.keys == [Fixture.keyA])
        guard case .unchanged = watcher.poll() else { Issue.record("reloaded without a change"); return }
        try Data("\(Fixture.keyA.base64)\n\(Fixture.keyB.base64)\n".utf8).write(to: URL(fileURLWithPath: path))
        guard case .reloaded(let second) = watcher.poll() else { Issue.record("change not seen"); return }
        #expect(second.keys.count == 2)
    }

    @Test func relayKeyIsCreatedPrivateAndReloaded() throws {
        let directory = temporaryDirectory()
        let (key, created) = try RelayIdentity.loadOrCreate(dataDirectory: directory)
        #expect(created)
        var info = stat()
        #expect(stat(RelayIdentity.path(dataDirectory: directory), &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let (again, createdAgain) = try RelayIdentity.loadOrCreate(dataDirectory: directory)
        #expect(!createdAgain)
        #expect(again == key)
        chmod(RelayIdentity.path(dataDirectory: directory), 0o644)
        #expect(throws: SecretFile.InsecurePermissions.self) { try RelayIdentity.loadOrCreate(dataDirectory: directory) }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(leftovers == [RelayIdentity.fileName])
    }

    @Test func peerRelayArgument() {
        let parsed = PeerRelayArgument.parse("127.0.0.1:51821:\(Fixture.keyA.base64)")
        #expect(parsed?.endpoint == RelayAddress(Endpoint("127.0.0.1:51821")!))
        #expect(parsed?.key == Fixture.keyA)
        #expect(PeerRelayArgument.parse("[::1]:7:\(Fixture.keyB.base64)")?.endpoint.port == 7)
        #expect(PeerRelayArgument.parse("127.0.0.1:51821") == nil)
        #expect(PeerRelayArgument.parse("127.0.0.1:\(Fixture.keyA.base64)") == nil)
    }
}
