import Foundation
import Testing
import WireGuard
@testable import FormnetKit

@Suite struct InterfaceConfigTests {
    let serverKey = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw="
    let privateKey = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="

    var sample: String {
        """
        [interface]
        network-name = "evilcorp"
        address = "10.66.1.2/16"
        private-key = "\(privateKey)"
        listen-port = 51820

        [server]
        public-key = "\(serverKey)"
        external-endpoint = "203.0.113.7:51820"
        internal-endpoint = "10.66.0.1:51820"
        """
    }

    @Test func parsesInnernetLayout() throws {
        let config = try InterfaceConfig.parse(sample, path: "evilcorp.conf")
        #expect(config.interface.networkName == "evilcorp")
        #expect(config.interface.address == IPNetwork("10.66.1.2/16"))
        #expect(config.privateKey == PrivateKey(base64: privateKey))
        #expect(config.interface.listenPort == 51820)
        #expect(config.interface.mtu == nil)
        #expect(config.server.publicKey == PublicKey(base64: serverKey))
        #expect(config.server.externalEndpoint == Endpoint("203.0.113.7:51820"))
        #expect(config.server.internalEndpoint == Endpoint("10.66.0.1:51820"))
    }

    @Test func rendersAndParsesBackIdentical() throws {
        let config = try InterfaceConfig.parse(sample, path: "x")
        #expect(try InterfaceConfig.parse(config.render(), path: "x") == config)
        let v6 = InterfaceConfig(
            interface: .init(networkName: "v6net", address: IPNetwork("fd66::2/64")!, privateKey: privateKey, mtu: 1380),
            server: .init(publicKey: PublicKey(base64: serverKey)!, externalEndpoint: Endpoint("[2001:db8::7]:51820")!,
                          internalEndpoint: Endpoint("[fd66::1]:51820")!))
        #expect(try InterfaceConfig.parse(v6.render(), path: "x") == v6)
    }

    @Test(arguments: [
        ("network-name = \"evilcorp\"", "network-name = \"Evil Corp\"", "invalid network name 'Evil Corp'"),
        ("private-key = \"yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\"", "private-key = \"short\"", "private-key is not a base64 WireGuard key"),
        ("address = \"10.66.1.2/16\"", "address = \"10.66.1.2\"", "invalid 'interface.address'"),
        ("internal-endpoint = \"10.66.0.1:51820\"", "internal-endpoint = \"10.99.0.1:51820\"", "outside the network"),
        ("internal-endpoint = \"10.66.0.1:51820\"", "", "missing or invalid key 'server.internal-endpoint'"),
        ("listen-port = 51820", "listen-port = \"x\"", "invalid key 'interface.listen-port'"),
        ("[server]", "[server", "not valid TOML"),
    ])
    func reportsWhatIsWrong(replace: String, with: String, expected: String) {
        let text = sample.replacingOccurrences(of: replace, with: with)
        #expect(throws: InterfaceConfig.Invalid.self) { try InterfaceConfig.parse(text, path: "bad.conf") }
        do {
            _ = try InterfaceConfig.parse(text, path: "bad.conf")
        } catch {
            #expect(error.description.hasPrefix("bad.conf: "))
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }

    @Test func savesWith0600AndRefusesLooseFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("formnet-kit-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/evilcorp.conf"
        let config = try InterfaceConfig.parse(sample, path: path)
        try config.save(to: path)
        #expect(try InterfaceConfig.load(from: path) == config)
        chmod(path, 0o640)
        #expect(throws: SecretFile.InsecurePermissions.self) { try InterfaceConfig.load(from: path) }
    }
}

@Suite struct ServerConfigTests {
    @Test func roundTripsAndDerivesTheNetwork() throws {
        let text = """
            private-key = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
            listen-port = 51820
            address = "10.66.0.1"
            network-cidr-prefix = 16
            external-endpoint = "203.0.113.7:51820"
            """
        let config = try ServerConfig.parse(text, path: "s.conf")
        #expect(config.network == IPNetwork("10.66.0.0/16"))
        #expect(config.apiEndpoint == Endpoint("10.66.0.1:51820"))
        #expect(throws: ServerConfig.Invalid.self) {
            try ServerConfig.parse(text.replacingOccurrences(of: "= 16", with: "= 40"), path: "s.conf")
        }
    }
}

@Suite struct NamesTests {
    @Test func networkAndHostNames() throws {
        try Names.validateNetwork("evilcorp")
        try Names.validateNetwork("net-1")
        #expect(throws: Names.Invalid.self) { try Names.validateNetwork("sixteen-chars-xx") }
        #expect(throws: Names.Invalid.self) { try Names.validateNetwork("-lead") }
        #expect(throws: Names.Invalid.self) { try Names.validateNetwork("UPPER") }
        // Its peer cache would be the relay registry.
        #expect(throws: Names.Invalid.self) { try Names.validateNetwork("relays") }
        try Names.validateNetwork("relays2")
        try Names.validateHost("laptop-7")
        #expect(throws: Names.Invalid.self) { try Names.validateHost("trailing-") }
        #expect(throws: Names.Invalid.self) { try Names.validateHost("dot.ted") }
        #expect(throws: Names.Invalid.self) { try Names.validateHost(String(repeating: "a", count: 64)) }
    }
}

@Suite struct APICodingTests {
    @Test func peerJSONUsesTheUsualTextForms() throws {
        let key = PrivateKey.generate().publicKey
        let peer = NetworkPeer(id: 3, name: "laptop", ip: IPAddress("10.66.1.2")!, cidrId: 2, publicKey: key,
                               endpoint: Endpoint("[2001:db8::1]:51820"), persistentKeepalive: 25,
                               inviteExpires: Date(timeIntervalSince1970: 1_800_000_000),
                               candidates: [Endpoint("192.168.1.5:51820")!])
        let json = String(decoding: try API.encoder().encode(peer), as: UTF8.self)
        #expect(json.contains("\"ip\":\"10.66.1.2\""))
        #expect(json.contains("\"endpoint\":\"[2001:db8::1]:51820\""))
        #expect(json.contains("\"publicKey\":\"\(key.base64.replacingOccurrences(of: "/", with: "\\/"))\""))
        #expect(json.contains("\"inviteExpires\":\"2027-01-15T08:00:00Z\""))
        #expect(try API.decoder().decode(NetworkPeer.self, from: Data(json.utf8)) == peer)
    }

    @Test func badFieldsAreRefused() {
        let bad = #"{"publicKey":"not-a-key"}"#
        #expect(throws: DecodingError.self) { try API.decoder().decode(API.RedeemRequest.self, from: Data(bad.utf8)) }
        let badEndpoint = #"{"endpoint":"example.com:1"}"#
        #expect(throws: DecodingError.self) { try API.decoder().decode(API.EndpointOverride.self, from: Data(badEndpoint.utf8)) }
        let clear = #"{}"#
        #expect((try? API.decoder().decode(API.EndpointOverride.self, from: Data(clear.utf8)))?.endpoint == nil)
    }
}
