import ArgumentParser

struct ListAssociations: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-associations", abstract: "List the associations between CIDRs (admin).")

    @OptionGroup var admin: AdminOptions

    func run() throws {
        for line in try admin.administration().listAssociations() { print(line) }
    }
}
