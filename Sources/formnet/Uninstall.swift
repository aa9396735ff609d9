import ArgumentParser
import FormnetAgent

struct Uninstall: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Leave a network on this host: remove the interface, the config, the peer cache and the hosts entries.")

    @OptionGroup var network: NetworkArgument
    @Flag(help: "Confirm; the config holds this member's only key, so it cannot be undone.") var yes = false
    @OptionGroup var options: MemberOptions

    func run() throws {
        guard yes else {
            throw ValidationError("uninstalling deletes this member's key for '\(network.network)' for good; add --yes to confirm")
        }
        try options.member(network.network).uninstall()
    }
}
