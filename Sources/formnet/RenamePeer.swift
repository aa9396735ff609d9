import ArgumentParser

struct RenamePeer: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rename-peer", abstract: "Rename a peer (admin).")

    @OptionGroup var admin: AdminOptions
    @Option(help: "Current peer name.") var name: String
    @Option(help: "New peer name.") var newName: String

    func run() throws {
        try admin.administration().renamePeer(name, to: newName)
    }
}
