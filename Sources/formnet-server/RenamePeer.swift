import ArgumentParser
import FormnetServer

struct RenamePeer: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Rename a peer.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var name: NetworkArgument
    @Option(name: .customLong("name"), help: "The peer's current name.")
    var peerName: String
    @Option(help: "The peer's new name.")
    var newName: String

    func run() throws {
        let (config, store) = try global.files(name.network).open()
        let peer = try RegistryAdmin(store: store, config: config).renamePeer(peerName, to: newName)
        print("renamed peer \(peerName) to \(peer.name)")
    }
}
