import ArgumentParser
import FormnetServer

struct ListPeers: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the network's peers.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var name: NetworkArgument

    func run() throws {
        let (_, store) = try global.files(name.network).open()
        print(Listing.peers(try store.peers(), cidrs: try store.cidrs()))
    }
}
