import ArgumentParser

struct DeleteCidr: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete-cidr", abstract: "Delete a CIDR (admin).")

    @OptionGroup var admin: AdminOptions
    @Option(help: "CIDR name.") var name: String

    func run() throws {
        try admin.administration().deleteCidr(named: name)
    }
}
