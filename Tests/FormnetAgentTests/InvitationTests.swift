import Foundation
import FormnetKit
import Testing
import WireGuard
@testable import FormnetAgent

@Suite struct InvitationTests {
    let fixture = Fixture()

    @Test func invitationCarriesTheNetworkPrefixAndServer() throws {
        let key = PrivateKey.generate()
        let invitation = try Invitation.make(for: IPAddress("10.66.1.9")!, key: key, adminConfig: fixture.config)
        #expect(invitation.interface.address == IPNetwork("10.66.1.9/16"))
        #expect(invitation.privateKey == key)
        #expect(invitation.server == fixture.config.server)
        #expect(try InterfaceConfig.parse(invitation.render(), path: "invite.toml") == invitation)
    }

    @Test func invitationOutsideTheNetworkIsRefused() {
        #expect(throws: AgentError.self) {
            try Invitation.make(for: IPAddress("10.99.0.1")!, key: PrivateKey.generate(), adminConfig: fixture.config)
        }
    }

    @Test func readsAndRenamesAnInvitationFile() throws {
        let path = try fixture.temporaryDirectory() + "/invite.toml"
        try fixture.config.render().write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try Installation.readInvitation(path, name: nil).interface.networkName == "evilcorp")
        #expect(try Installation.readInvitation(path, name: "other").interface.networkName == "other")
        #expect(throws: AgentError.self) { try Installation.readInvitation(path, name: "Bad Name") }
    }

    @Test func malformedOrMissingInvitationIsAClearError() throws {
        let path = try fixture.temporaryDirectory() + "/invite.toml"
        try "[interface]\nnetwork-name = 3\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: InterfaceConfig.Invalid.self) { try Installation.readInvitation(path, name: nil) }
        #expect(throws: AgentError.invalidInput("cannot read the invitation \(path).missing")) {
            try Installation.readInvitation(path + ".missing", name: nil)
        }
    }

    @Test func firstFreeIPSkipsNetworkTakenAndBroadcast() {
        let cidr = IPNetwork("10.66.1.0/30")!
        #expect(Invitation.firstFreeIP(in: cidr, taken: []) == IPAddress("10.66.1.1"))
        #expect(Invitation.firstFreeIP(in: cidr, taken: [IPAddress("10.66.1.1")!]) == IPAddress("10.66.1.2"))
        #expect(Invitation.firstFreeIP(in: cidr, taken: [IPAddress("10.66.1.1")!, IPAddress("10.66.1.2")!]) == nil)
        #expect(Invitation.firstFreeIP(in: IPNetwork("fd66::/64")!, taken: [IPAddress("fd66::1")!]) == IPAddress("fd66::2"))
    }

    @Test(arguments: [("14d", 14.0 * 86400), ("12h", 43200), ("30m", 1800), ("90s", 90), ("2w", 1_209_600)])
    func parsesDurations(text: String, seconds: Double) {
        #expect(Invitation.parseDuration(text) == seconds)
    }

    @Test(arguments: ["", "d", "14", "0d", "-1d", "14x", "1.5d"])
    func refusesBadDurations(text: String) {
        #expect(Invitation.parseDuration(text) == nil)
    }
}
