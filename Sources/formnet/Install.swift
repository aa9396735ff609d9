import ArgumentParser
import FormnetAgent

struct Install: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join a network: redeem an invitation, bring the interface up and write its config.",
        discussion: "The invitation file is deleted once the network is installed.")

    @Argument(help: "Invitation file (TOML) from 'add-peer'.") var invitation: String
    @Option(help: "Network (interface) name to use instead of the invitation's.") var name: String?
    @OptionGroup var options: MemberOptions

    func run() throws {
        let config = try Installation(options: options.agentOptions, setup: options.setup, logger: options.logger)
            .install(invitationPath: invitation, name: name)
        print("installed \(config.interface.networkName) as \(config.interface.address.address); start it with 'formnet up \(config.interface.networkName)'")
    }
}
