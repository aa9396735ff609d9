import ArgumentParser
import FormnetServer
import WireGuard

struct AddCidr: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Add a CIDR under a parent CIDR.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var name: NetworkArgument
    @Option(name: .customLong("name"), help: "The CIDR's name.")
    var cidrName: String
    @Option(help: "The CIDR's range, e.g. 10.66.1.0/24.")
    var cidr: String
    @Option(help: "Name of the parent CIDR (the root CIDR is named after the network).")
    var parent: String

    func run() throws {
        guard let range = IPNetwork(cidr), cidr.contains("/") else {
            throw ValidationError("invalid --cidr '\(cidr)': want ADDRESS/PREFIX")
        }
        let (config, store) = try global.files(name.network).open()
        let added = try RegistryAdmin(store: store, config: config).addCidr(name: cidrName, range: range, parentNamed: parent)
        print("added CIDR \(added.name) (\(added.cidr)) under \(parent)")
    }
}
