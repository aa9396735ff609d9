import ArgumentParser
import FormnetServer

struct DisablePeer: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Disable a peer: it leaves the server's WireGuard device and every member's view.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var name: NetworkArgument
    @Option(name: .customLong("name"), help: "The peer's name.")
    var peerName: String

    func run() throws {
        let (config, store) = try global.files(name.network).open()
        let peer = try RegistryAdmin(store: store, config: config).setDisabled(peerNamed: peerName, true)
        print("disabled peer \(peer.name) (\(peer.ip))")
    }
}
