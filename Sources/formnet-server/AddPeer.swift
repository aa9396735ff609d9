import ArgumentParser
import FormnetServer
import WireGuard

struct AddPeer: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add a peer and write its invitation file (0600).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var name: NetworkArgument
    @Option(name: .customLong("name"), help: "The peer's name.")
    var peerName: String
    @Option(help: "The peer's tunnel IP; by default the first free address of its CIDR.")
    var ip: String?
    @Option(help: "Name of the CIDR the peer belongs to.")
    var cidr: String
    @Flag(help: "Make the peer an admin.")
    var admin = false
    @Option(help: "How long the invitation stays valid: a number and s, m, h, d or w.")
    var inviteExpires: String = "14d"
    @Option(help: "Where to write the invitation (default: NAME.toml in the current directory).")
    var saveConfig: String?

    func run() throws {
        let address = try ip.map { text in
            guard let address = IPAddress(text) else { throw ValidationError("invalid --ip '\(text)'") }
            return address
        }
        let (config, store) = try global.files(name.network).open()
        let path = saveConfig ?? "\(peerName).toml"
        let peer = try Invitation.create(
            Invitation.Request(name: peerName, ip: address, cidrName: cidr, isAdmin: admin,
                               expiresAfter: try ExpiryText.parse(inviteExpires), savePath: path),
            network: name.network, config: config, store: store)
        print("added peer \(peer.name) (\(peer.ip)) to CIDR \(cidr)\(admin ? " as admin" : "")")
        print("invitation written to \(path), valid until \(peer.inviteExpires.map { $0.ISO8601Format() } ?? "-")")
    }
}
