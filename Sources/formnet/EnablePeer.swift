import ArgumentParser

struct EnablePeer: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enable-peer", abstract: "Enable a disabled peer again (admin).")

    @OptionGroup var admin: AdminOptions
    @Option(help: "Peer name.") var name: String

    func run() throws {
        try admin.administration().setDisabled(name, false)
    }
}
