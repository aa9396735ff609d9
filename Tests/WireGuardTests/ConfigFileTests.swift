import Testing
@testable import WireGuard

@Suite struct ConfigFileTests {
    let privateKey = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
    let peerA = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
    let peerB = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0="
    let psk = "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE="

    @Test func parsesEveryKey() throws {
        let text = """
            # formnet test
            [Interface]
            PrivateKey = \(privateKey)
            ListenPort = 51820
            FwMark = 0x20

            [Peer]
            PublicKey = \(peerA)
            PresharedKey = \(psk)
            AllowedIPs = 10.0.0.5/24, fd00::1/64   # host bits are cleared, as the kernel does
            Endpoint = [2001:db8::1]:51820
            PersistentKeepalive = 25

            [peer]
            publickey=\(peerB)
            AllowedIPs=10.9.0.0/16
            Endpoint=192.0.2.7:4500
            PersistentKeepalive = off
            """
        let device = try ConfigFile.parse(text, name: "wg0")
        #expect(device.privateKey == PrivateKey(base64: privateKey))
        #expect(device.publicKey?.base64 == "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=")
        #expect(device.listenPort == 51820)
        #expect(device.fwmark == 0x20)
        #expect(device.peers.count == 2)
        #expect(device.peers[0].publicKey.base64 == peerA)
        #expect(device.peers[0].presharedKey == PresharedKey(base64: psk))
        #expect(device.peers[0].allowedIPs.map(\.description) == ["10.0.0.0/24", "fd00::/64"])
        #expect(device.peers[0].endpoint?.description == "[2001:db8::1]:51820")
        #expect(device.peers[0].persistentKeepalive == 25)
        #expect(device.peers[1].endpoint?.description == "192.0.2.7:4500")
        #expect(device.peers[1].persistentKeepalive == 0)
    }

    @Test func renderedConfigParsesBackIdentical() throws {
        let text = """
            [Interface]
            PrivateKey = \(privateKey)
            ListenPort = 7

            [Peer]
            PublicKey = \(peerA)
            AllowedIPs = 10.0.0.0/24
            Endpoint = 192.0.2.1:1
            """
        let device = try ConfigFile.parse(text, name: "wg0")
        #expect(try ConfigFile.parse(ConfigFile.render(device), name: "wg0") == device)
        #expect(ConfigFile.render(device).contains("PersistentKeepalive") == false)
    }

    @Test(arguments: [
        ("PrivateKey = x", 1, "'privatekey' outside a section"),
        ("[Interface]\nListenPort = 70000", 2, "invalid ListenPort '70000'"),
        ("[Interface]\nPrivateKey = nope", 2, "invalid PrivateKey"),
        ("[Peer]\nAllowedIPs = 10.0.0.0/8", 2, "PublicKey must come first in a [Peer] section"),
        ("[Peer]\nPublicKey = TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=\nAllowedIPs = 10.0.0.0/33", 3,
         "invalid AllowedIPs entry '10.0.0.0/33'"),
        ("[Peer]\nPublicKey = TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=\nEndpoint = host:1", 3,
         "invalid Endpoint (want ip:port or [ipv6]:port) 'host:1'"),
        ("[Peer]\nPublicKey = TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=\n[Peer]\nPublicKey = TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=", 3,
         "duplicate peer TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0="),
        ("[Peer]", 1, "[Peer] without PublicKey"),
        ("[Interface]\nDNS = 1.1.1.1", 2, "unknown key 'DNS'"),
        ("[Wat]", 1, "unknown section [Wat]"),
    ])
    func reportsTheFirstBadLine(text: String, line: Int, message: String) {
        #expect(throws: ConfigFile.ParseError(line: line, message: message)) {
            try ConfigFile.parse(text, name: "wg0")
        }
    }

    @Test func dumpMatchesWgShowDumpLayout() throws {
        let device = try ConfigFile.parse("""
            [Interface]
            PrivateKey = \(privateKey)
            ListenPort = 51820
            [Peer]
            PublicKey = \(peerA)
            AllowedIPs = 10.0.0.0/24, fd00::/64
            PersistentKeepalive = 25
            """, name: "wg0")
        #expect(DumpFormat.render(device) == """
            \(privateKey)\tHIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=\t51820\toff
            \(peerA)\t(none)\t(none)\t10.0.0.0/24,fd00::/64\t0\t0\t0\t25
            """)
    }
}
