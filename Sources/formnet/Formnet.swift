import ArgumentParser
import WireGuard

@main
struct Formnet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "formnet",
        abstract: "A WireGuard mesh with NAT traversal and relay fallback.",
        version: FormnetVersion.string,
        subcommands: [
            Install.self, Up.self, Fetch.self, Show.self, Down.self, Uninstall.self, SetListenPort.self, OverrideEndpoint.self,
            AddPeer.self, DisablePeer.self, EnablePeer.self, RenamePeer.self, AddCidr.self, DeleteCidr.self, ListCidrs.self,
            AddAssociation.self, DeleteAssociation.self, ListAssociations.self,
            WG.self, StartRelay.self, ConfigureRelay.self, ListRelays.self, AddBootstrapRelay.self, DeleteBootstrapRelay.self,
        ]
    )

    /// innernet's global flags may come before the subcommand (`formnet --backend userspace up
    /// NET`); each subcommand declares the ones it takes, so they are moved behind it.
    static func main() {
        main(GlobalFlags.movedBehindSubcommand(Array(CommandLine.arguments.dropFirst())))
    }
}
