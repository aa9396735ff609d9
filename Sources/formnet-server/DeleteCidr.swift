import ArgumentParser
import FormnetServer

struct DeleteCidr: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete a CIDR that has no peers and no sub-CIDRs.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var name: NetworkArgument
    @Option(name: .customLong("name"), help: "The CIDR's name.")
    var cidrName: String

    func run() throws {
        let (config, store) = try global.files(name.network).open()
        try RegistryAdmin(store: store, config: config).deleteCidr(named: cidrName)
        print("deleted CIDR \(cidrName)")
    }
}
