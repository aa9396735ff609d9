import ArgumentParser
import WireGuard

@main
struct FormnetServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "formnet-server",
        abstract: "The coordination server of a formnet network.",
        version: FormnetVersion.string,
        subcommands: [
            New.self, Serve.self, AddPeer.self, DisablePeer.self, EnablePeer.self, RenamePeer.self,
            AddCidr.self, RenameCidr.self, DeleteCidr.self, ListPeers.self, ListCidrs.self, Uninstall.self,
        ]
    )
}
