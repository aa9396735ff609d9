import Foundation
import Testing
import WireGuard
@testable import FormnetAgent

@Suite struct HostsFileTests {
    let entries = [HostsFile.Entry(ip: IPAddress("10.66.1.3")!, name: "bob"),
                   HostsFile.Entry(ip: IPAddress("10.66.0.1")!, name: "formnet-server")]

    @Test func appendsBlockAndKeepsOtherLines() {
        let text = "127.0.0.1\tlocalhost\n::1\tlocalhost\n"
        #expect(HostsFile.rewrite(text, network: "evilcorp", entries: entries) == """
            127.0.0.1\tlocalhost
            ::1\tlocalhost
            # BEGIN formnet evilcorp
            10.66.1.3\tbob.evilcorp.wg
            10.66.0.1\tformnet-server.evilcorp.wg
            # END formnet evilcorp

            """)
    }

    @Test func replacesBlockInPlaceAndLeavesOtherNetworksAlone() {
        let text = """
            127.0.0.1\tlocalhost
            # BEGIN formnet evilcorp
            10.66.1.9\told.evilcorp.wg
            # END formnet evilcorp
            # BEGIN formnet other
            10.77.0.2\tx.other.wg
            # END formnet other
            192.0.2.1\tprinter

            """
        let updated = HostsFile.rewrite(text, network: "evilcorp", entries: [entries[0]])
        #expect(updated == """
            127.0.0.1\tlocalhost
            # BEGIN formnet evilcorp
            10.66.1.3\tbob.evilcorp.wg
            # END formnet evilcorp
            # BEGIN formnet other
            10.77.0.2\tx.other.wg
            # END formnet other
            192.0.2.1\tprinter

            """)
        #expect(HostsFile.rewrite(updated, network: "evilcorp", entries: [entries[0]]) == updated)
    }

    @Test func removesBlockOnUninstall() {
        let text = "127.0.0.1\tlocalhost\n# BEGIN formnet evilcorp\n10.66.1.3\tbob.evilcorp.wg\n# END formnet evilcorp\n192.0.2.1\tprinter\n"
        #expect(HostsFile.rewrite(text, network: "evilcorp", entries: nil) == "127.0.0.1\tlocalhost\n192.0.2.1\tprinter\n")
    }

    @Test func updateWritesTheFileAndKeepsItsMode() throws {
        let path = try Fixture().temporaryDirectory() + "/hosts"
        try "127.0.0.1\tlocalhost\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        try HostsFile.update(path: path, network: "evilcorp", entries: entries)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("127.0.0.1\tlocalhost\n# BEGIN formnet evilcorp\n"))
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) == 0o644)
        try HostsFile.update(path: path, network: "evilcorp", entries: nil)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "127.0.0.1\tlocalhost\n")
    }
}
