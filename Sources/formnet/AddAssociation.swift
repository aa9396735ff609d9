import ArgumentParser

struct AddAssociation: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-association", abstract: "Let the peers of two CIDRs see each other (admin).")

    @OptionGroup var admin: AdminOptions
    @Option(help: "First CIDR name.") var cidr1: String
    @Option(help: "Second CIDR name.") var cidr2: String

    func run() throws {
        try admin.administration().addAssociation(cidr1, cidr2)
    }
}
