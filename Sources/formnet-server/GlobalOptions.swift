import ArgumentParser
import FormnetKit
import FormnetServer
import WireGuard

extension BackendKind: ExpressibleByArgument {}

/// Flags every subcommand takes, as innernet-server's are.
struct GlobalOptions: ParsableArguments {
    @Option(help: "Directory of the networks' server configs.")
    var configDir: String = Paths.defaultServerConfigDir
    @Option(help: "Directory of the networks' databases.")
    var dataDir: String = Paths.defaultServerDataDir
    @Option(help: "WireGuard implementation: kernel (the module, over netlink) or userspace (wireguard-go).")
    var backend: BackendKind = .kernel
    @Option(help: "MTU of the WireGuard interface.")
    var mtu: UInt32 = 1420

    var paths: Paths { Paths(configDir: configDir, dataDir: dataDir) }

    func files(_ network: String) throws -> ServerFiles {
        try ServerFiles(network: network, paths: paths)
    }
}

/// The network a subcommand acts on; its name is also the interface name.
struct NetworkArgument: ParsableArguments {
    @Argument(help: "Network name (also the WireGuard interface name).")
    var network: String

    func validate() throws {
        do {
            try Names.validateNetwork(network)
        } catch {
            throw ValidationError(error.description)
        }
    }
}
