import ArgumentParser
import WireGuard

@main
struct Formnet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "formnet",
        abstract: "A WireGuard mesh with NAT traversal and relay fallback.",
        version: FormnetVersion.string,
        subcommands: [WG.self, StartRelay.self]
    )
}
