import ArgumentParser
import FormnetServer
import WireGuard

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring the network's interface up and serve the API on its tunnel address until SIGTERM/SIGINT.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var name: NetworkArgument
    @Option(help: "Seconds between refreshes of endpoints, invitations and WireGuard peers.")
    var refreshInterval: Int = 1
    @Option(help: "First of the two UDP ports of the STUN observers members use to detect their NAT type (0: none).")
    var stunPort: UInt16 = 3478

    func validate() throws {
        guard (1...3600).contains(refreshInterval) else { throw ValidationError("--refresh-interval must be 1–3600 seconds") }
        guard stunPort != UInt16.max else { throw ValidationError("--stun-port needs two consecutive ports") }
    }

    func run() async throws {
        let (config, store) = try global.files(name.network).open()
        ServerLog.bootstrap()
        try await ServerRuntime(
            network: name.network, config: config, store: store, backend: global.backend.makeBackend(), links: RouteNetlink(),
            mtu: global.mtu, refreshInterval: .seconds(refreshInterval), stunPort: stunPort == 0 ? nil : stunPort,
            logger: ServerLog.logger()
        ).run()
    }
}
