import Foundation
import FormnetKit
import Logging
import Testing
import WireGuard
@testable import FormnetAgent

/// DATA_DIR/NET.members, the keys `start-relay --network NET` serves, written by each fetch.
@Suite struct MembersFileTests {
    let fixture = Fixture()

    /// A device that is up and takes every change without keeping it.
    struct StillBackend: WireGuardBackend {
        let kind = BackendKind.userspace
        func createInterface(named name: String) throws {}
        func deleteInterface(named name: String) throws {}
        func interfaces() throws -> [String] { ["evilcorp"] }
        func device(named name: String) throws -> Device { Device(name: name) }
        func apply(_ update: DeviceUpdate, to name: String) throws {}
    }

    func sync(dataDir: String) -> StateSync {
        StateSync(network: "evilcorp", config: fixture.config, backend: StillBackend(),
                  options: AgentOptions(paths: Paths(configDir: dataDir, dataDir: dataDir), hostsPath: nil),
                  logger: Logger(label: "test"))
    }

    @Test func enabledRedeemedPeersSortedOneALine() throws {
        let keys = (0..<4).map { _ in PrivateKey.generate().publicKey }
        let state = API.State(peers: [
            fixture.peer(1, "formnet-server", "10.66.0.1", key: keys[0], cidr: 2),
            fixture.peer(2, "alice", "10.66.1.2", key: keys[1]),
            fixture.peer(3, "off", "10.66.1.3", key: keys[2], disabled: true),
            fixture.peer(4, "invited", "10.66.1.4", key: keys[3], redeemed: false),
        ], cidrs: fixture.cidrs)
        let expected = [keys[0], keys[1]].map(\.base64).sorted().map { "\($0)\n" }.joined()
        #expect(StateSync.members(of: state) == expected)
        #expect(StateSync.members(of: API.State(peers: [], cidrs: fixture.cidrs)) == "")
    }

    @Test func applyWritesTheFileOnlyWhenItChanges() throws {
        let directory = try fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = Paths(configDir: directory, dataDir: directory).members("evilcorp")
        let alice = fixture.peer(2, "alice", "10.66.1.2", key: fixture.ownKey.publicKey)
        let bob = fixture.peer(3, "bob", "10.66.1.3")
        let sync = sync(dataDir: directory)

        try sync.apply(API.State(peers: [alice, bob], cidrs: fixture.cidrs))
        let first = try String(contentsOfFile: path, encoding: .utf8)
        #expect(first == [alice, bob].map(\.publicKey.base64).sorted().map { "\($0)\n" }.joined())
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o644)
        let inode = (attributes[.systemFileNumber] as? NSNumber)?.uint64Value

        // The same members in another order: the file is left as it is (the same inode; a
        // rewrite renames a new file over it).
        try sync.apply(API.State(peers: [bob, alice], cidrs: fixture.cidrs))
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? NSNumber)?.uint64Value == inode)

        var disabled = bob
        disabled.isDisabled = true
        try sync.apply(API.State(peers: [alice, disabled], cidrs: fixture.cidrs))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "\(alice.publicKey.base64)\n")
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? NSNumber)?.uint64Value != inode)
    }
}
