import ArgumentParser

struct AddCidr: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add-cidr", abstract: "Add a CIDR under a parent CIDR (admin).")

    @OptionGroup var admin: AdminOptions
    @Option(help: "CIDR name.") var name: String
    @Option(help: "The range, e.g. 10.66.2.0/24.") var cidr: String
    @Option(help: "Name of the parent CIDR.") var parent: String

    func run() throws {
        let added = try admin.administration().addCidr(name: name, cidr: cidr, parent: parent)
        print("added CIDR \(added.name) (\(added.cidr.canonical))")
    }
}
