import ArgumentParser
import FormnetServer

struct RenameCidr: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Rename a CIDR.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var name: NetworkArgument
    @Option(name: .customLong("name"), help: "The CIDR's current name.")
    var cidrName: String
    @Option(help: "The CIDR's new name.")
    var newName: String

    func run() throws {
        let (config, store) = try global.files(name.network).open()
        let cidr = try RegistryAdmin(store: store, config: config).renameCidr(cidrName, to: newName)
        print("renamed CIDR \(cidrName) to \(cidr.name)")
    }
}
