import ArgumentParser
import FormnetServer
import WireGuard

struct New: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a network: its server key and config, its database, root and server CIDRs.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Network name (also the WireGuard interface name).")
    var networkName: String
    @Option(help: "The network's CIDR, e.g. 10.66.0.0/16 or fd66::/64.")
    var networkCidr: String
    @Option(help: "Address members reach the server at, IP:PORT or [IPv6]:PORT.")
    var externalEndpoint: String?
    @Flag(help: "Use the host's first non-loopback address and the listen port as the external endpoint.")
    var autoExternalEndpoint = false
    @Option(help: "WireGuard listen port; the API listens on the same TCP port on the tunnel address.")
    var listenPort: UInt16 = 51820

    func validate() throws {
        guard (externalEndpoint != nil) != autoExternalEndpoint else {
            throw ValidationError("give exactly one of --external-endpoint and --auto-external-endpoint")
        }
    }

    func run() throws {
        guard let cidr = IPNetwork(networkCidr), networkCidr.contains("/") else {
            throw ValidationError("invalid --network-cidr '\(networkCidr)': want ADDRESS/PREFIX")
        }
        let endpoint: Endpoint
        if let externalEndpoint {
            guard let parsed = Endpoint(externalEndpoint) else {
                throw ValidationError("invalid --external-endpoint '\(externalEndpoint)': want IP:PORT or [IPv6]:PORT")
            }
            endpoint = parsed
        } else {
            endpoint = Endpoint(address: try HostAddress.firstNonLoopback(), port: listenPort)
        }
        let files = try global.files(networkName)
        let config = try NetworkSetup.create(files: files, cidr: cidr, externalEndpoint: endpoint, listenPort: listenPort)
        print("created network \(networkName): \(cidr), server \(config.address), external endpoint \(endpoint)")
        print("config: \(files.configPath)")
        print("database: \(files.databasePath)")
        print("start it with: formnet-server serve \(networkName)")
    }
}
