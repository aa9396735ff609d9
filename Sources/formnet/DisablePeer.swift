import ArgumentParser

struct DisablePeer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disable-peer", abstract: "Disable a peer: every member removes it at its next fetch (admin).")

    @OptionGroup var admin: AdminOptions
    @Option(help: "Peer name.") var name: String

    func run() throws {
        try admin.administration().setDisabled(name, true)
    }
}
