import ArgumentParser
import FormnetAgent
import WireGuard

struct AddPeer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-peer",
        abstract: "Add a peer to the network and write its invitation (admin).")

    @OptionGroup var admin: AdminOptions
    @Option(help: "Peer name (a DNS label).") var name: String
    @Option(help: "Name of the CIDR the peer joins.") var cidr: String
    @Option(help: "Tunnel IP, or 'auto' for the CIDR's first free address.") var ip = "auto"
    @Flag(name: .customLong("admin"), help: "Make the peer an admin.") var isAdmin = false
    @Option(help: "How long the invitation stays valid: Ns, Nm, Nh, Nd or Nw.") var inviteExpires = "14d"
    @Option(help: "Where to write the invitation (TOML, mode 0600).") var saveConfig: String

    func validate() throws {
        if ip != "auto", IPAddress(ip) == nil { throw ValidationError("--ip \(ip): expected an IP address or 'auto'") }
        if Invitation.parseDuration(inviteExpires) == nil {
            throw ValidationError("--invite-expires \(inviteExpires): expected a count and a unit, e.g. 14d, 12h, 30m")
        }
    }

    func run() throws {
        let peer = try admin.administration().addPeer(.init(
            name: name, cidr: cidr, ip: ip == "auto" ? nil : IPAddress(ip), isAdmin: isAdmin,
            expiresIn: Invitation.parseDuration(inviteExpires) ?? 0, invitationPath: saveConfig))
        print("added peer \(peer.name) (\(peer.ip)); invitation written to \(saveConfig)")
    }
}
