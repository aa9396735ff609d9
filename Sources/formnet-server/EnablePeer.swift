import ArgumentParser
import FormnetServer

struct EnablePeer: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Enable a disabled peer again.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var name: NetworkArgument
    @Option(name: .customLong("name"), help: "The peer's name.")
    var peerName: String

    func run() throws {
        let (config, store) = try global.files(name.network).open()
        let peer = try RegistryAdmin(store: store, config: config).setDisabled(peerNamed: peerName, false)
        print("enabled peer \(peer.name) (\(peer.ip))")
    }
}
