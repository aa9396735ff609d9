import ArgumentParser
import WireGuard

struct WGSetConf: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setconf",
        abstract: "Replace an existing interface's configuration with a wg(8) config file, as `wg setconf` does.")

    @OptionGroup var name: InterfaceArgument
    @OptionGroup var backend: BackendOptions
    @Argument(help: "wg(8) config file; must be mode 0600.")
    var config: String

    func run() throws {
        let device = try ConfigFile.parse(try SecretFile.read(config), name: name.interface)
        try backend.make().apply(.replacing(with: device), to: name.interface)
    }
}
