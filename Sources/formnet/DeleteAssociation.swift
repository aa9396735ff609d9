import ArgumentParser

struct DeleteAssociation: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete-association", abstract: "Remove the association between two CIDRs (admin).")

    @OptionGroup var admin: AdminOptions
    @Option(help: "First CIDR name.") var cidr1: String
    @Option(help: "Second CIDR name.") var cidr2: String

    func run() throws {
        try admin.administration().deleteAssociation(cidr1, cidr2)
    }
}
