import ArgumentParser
import WireGuard

@main
struct FormnetServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "formnet-server",
        abstract: "The coordination server of a formnet network.",
        version: FormnetVersion.string
    )
}
