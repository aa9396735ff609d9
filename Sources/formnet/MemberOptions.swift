import ArgumentParser
import FormnetAgent
import FormnetKit
import Logging
import WireGuard

/// innernet's global flags, shared by every member command.
struct MemberOptions: ParsableArguments {
    @Option(help: "Directory of interface configs.") var configDir = Paths.defaultConfigDir
    @Option(help: "Directory of peer caches.") var dataDir = Paths.defaultDataDir
    @Option(help: "WireGuard implementation: kernel or userspace (wireguard-go).") var backend: BackendKind = .kernel
    @Option(help: "Interface MTU (default: the config's, else 1360 with relay fallback on, 1420 with it off).") var mtu: UInt32?
    @Flag(help: "Do not add a route for the network through the interface.") var noRouting = false
    @Flag(help: "Do not write peers into the hosts file.") var noWriteHosts = false
    @Option(help: "Hosts file to keep the network's block in.") var hostsPath = HostsFile.defaultPath
    @Option(help: "Log level: error, warning, info, debug or trace (debug: each relay route decision).")
    var logLevel: Logger.Level = .info

    func validate() throws {
        if let mtu, !(576...65535).contains(mtu) { throw ValidationError("--mtu \(mtu) is out of range (576–65535)") }
    }

    var agentOptions: AgentOptions {
        AgentOptions(paths: Paths(configDir: configDir, dataDir: dataDir), mtu: mtu, routing: !noRouting,
                     hostsPath: noWriteHosts ? nil : hostsPath)
    }

    var setup: InterfaceSetup {
        InterfaceSetup(backend: backend.makeBackend(), links: RouteNetlink())
    }

    var logger: Logger {
        MemberOptions.bootstrapLogging
        var logger = Logger(label: "formnet")
        logger.logLevel = logLevel
        return logger
    }

    func member(_ network: String) throws -> Member {
        try Member(network: network, options: agentOptions, setup: setup, logger: logger)
    }

    private static let bootstrapLogging: Void = LoggingSystem.bootstrap { label in
        StandardErrorLog(label: label)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// The NETWORK argument of the commands that act on an installed network.
struct NetworkArgument: ParsableArguments {
    @Argument(help: "Network (interface) name.") var network: String
}
