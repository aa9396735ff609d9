import ArgumentParser
import FormnetAgent
import WireGuard

struct OverrideEndpoint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "override-endpoint",
        abstract: "Tell the server which endpoint peers should use for this host, instead of the one it observes.")

    @OptionGroup var network: NetworkArgument
    @Option(help: "IP:PORT or [IPv6]:PORT.") var endpoint: String?
    @Flag(help: "Return to the endpoint the server observes.") var unset = false
    @OptionGroup var options: MemberOptions

    func validate() throws {
        guard (endpoint != nil) != unset else { throw ValidationError("give exactly one of --endpoint IP:PORT and --unset") }
        if let endpoint, Endpoint(endpoint) == nil { throw ValidationError("--endpoint \(endpoint): expected IP:PORT or [IPv6]:PORT") }
    }

    func run() throws {
        try options.member(network.network).overrideEndpoint(endpoint.flatMap(Endpoint.init))
    }
}
