import FormnetKit
import Foundation
import Testing
import WireGuard
@testable import FormnetServer

@Suite struct InvitationTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fnsrv-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func network(_ cidr: String = "10.66.0.0/16") throws -> (ServerFiles, ServerConfig, Store) {
        let files = try ServerFiles(network: "testnet", paths: Paths(configDir: "\(directory)/etc", dataDir: "\(directory)/lib"))
        try NetworkSetup.create(files: files, cidr: IPNetwork(cidr)!, externalEndpoint: Endpoint("203.0.113.7:51820")!, listenPort: 51820)
        let (config, store) = try files.open()
        return (files, config, store)
    }

    @Test func newNetworkFilesAndRefusals() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (files, config, store) = try network()
        #expect(config.address == IPAddress("10.66.0.1"))
        #expect(config.networkCidrPrefix == 16)
        var st = stat()
        #expect(stat(files.configPath, &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(stat(files.databasePath, &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(try store.peer(ip: config.address)?.publicKey == config.privateKeyValue?.publicKey)
        #expect(storeError { _ = try network() }?.kind == .conflict)
        let other = try ServerFiles(network: "other", paths: files.paths)
        #expect(storeError { try NetworkSetup.create(files: other, cidr: IPNetwork("10.1.0.1/16")!, externalEndpoint: Endpoint("192.0.2.1:1")!, listenPort: 51820) }?.kind == .invalid)
        #expect(!FileManager.default.fileExists(atPath: other.configPath))
        #expect(storeError { _ = try other.open() }?.description == "unknown network 'other': no config at \(other.configPath)")
    }

    @Test func invitationIsWritten0600AndParses() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (_, config, store) = try network()
        let path = "\(directory)/alice.toml"
        let now = Date()
        let peer = try Invitation.create(
            Invitation.Request(name: "alice", ip: nil, cidrName: "testnet", isAdmin: true, expiresAfter: 3600, savePath: path),
            network: "testnet", config: config, store: store, now: now)
        #expect(peer.ip == IPAddress("10.66.0.2"))
        #expect(!peer.isRedeemed && peer.isAdmin)
        #expect(abs((peer.inviteExpires ?? .distantPast).timeIntervalSince(now) - 3600) < 1)
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o600)
        let invitation = try InterfaceConfig.load(from: path)
        #expect(invitation.interface.networkName == "testnet")
        #expect(invitation.interface.address == IPNetwork("10.66.0.2/16"))
        #expect(invitation.privateKey?.publicKey == peer.publicKey)
        #expect(invitation.server.publicKey == config.privateKeyValue?.publicKey)
        #expect(invitation.server.internalEndpoint == Endpoint("10.66.0.1:51820"))
        #expect(invitation.server.externalEndpoint == Endpoint("203.0.113.7:51820"))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!text.contains(config.privateKey))
    }

    @Test func refusedInvitationChangesNothing() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (_, config, store) = try network()
        let path = "\(directory)/bob.toml"
        let request = Invitation.Request(name: "bob", ip: IPAddress("10.66.0.9"), cidrName: "testnet", isAdmin: false, expiresAfter: 60, savePath: path)
        _ = try Invitation.create(request, network: "testnet", config: config, store: store)
        #expect(storeError { _ = try Invitation.create(request, network: "testnet", config: config, store: store) }?.kind == .conflict)
        var taken = request
        taken.name = "carol"
        taken.savePath = "\(directory)/carol.toml"
        #expect(storeError { _ = try Invitation.create(taken, network: "testnet", config: config, store: store) }?.description == "10.66.0.9 is taken by peer 'bob'")
        #expect(!FileManager.default.fileExists(atPath: taken.savePath))
        var unwritable = taken
        unwritable.ip = nil
        unwritable.savePath = "\(directory)/missing-dir/carol.toml"
        #expect(throws: (any Error).self) { _ = try Invitation.create(unwritable, network: "testnet", config: config, store: store) }
        #expect(try store.peer(named: "carol") == nil)
        #expect(storeError { _ = try Invitation.create(Invitation.Request(name: "d", ip: nil, cidrName: "nope", isAdmin: false, expiresAfter: 60, savePath: "\(directory)/d.toml"), network: "testnet", config: config, store: store) }?.description == "no CIDR named 'nope'")
    }

    @Test func ipv6Invitation() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (_, config, store) = try network("fd66:1::/64")
        #expect(config.address == IPAddress("fd66:1::1"))
        let path = "\(directory)/v6.toml"
        let peer = try Invitation.create(Invitation.Request(name: "v6", ip: nil, cidrName: "testnet", isAdmin: false, expiresAfter: 60, savePath: path),
                                         network: "testnet", config: config, store: store)
        #expect(peer.ip == IPAddress("fd66:1::2"))
        let invitation = try InterfaceConfig.load(from: path)
        #expect(invitation.interface.address == IPNetwork("fd66:1::2/64"))
        #expect(invitation.server.internalEndpoint == Endpoint("[fd66:1::1]:51820"))
    }

    @Test func expiryText() throws {
        #expect(try ExpiryText.parse("14d") == 14 * 86_400)
        #expect(try ExpiryText.parse("30m") == 1800)
        #expect(try ExpiryText.parse("2w") == 1_209_600)
        for bad in ["", "d", "0d", "-1d", "14", "14x", "1.5h"] {
            #expect(storeError { _ = try ExpiryText.parse(bad) }?.kind == .invalid)
        }
    }
}
