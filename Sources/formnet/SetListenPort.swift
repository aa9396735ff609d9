import ArgumentParser
import FormnetAgent

struct SetListenPort: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-listen-port",
        abstract: "Set the WireGuard listen port in the config and on the running interface.")

    @OptionGroup var network: NetworkArgument
    @Option(help: "UDP port.") var port: UInt16?
    @Flag(help: "Use a random port instead.") var unset = false
    @OptionGroup var options: MemberOptions

    func validate() throws {
        guard (port != nil) != unset else { throw ValidationError("give exactly one of --port P and --unset") }
    }

    func run() throws {
        try options.member(network.network).setListenPort(unset ? nil : port)
    }
}
