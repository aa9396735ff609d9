import ArgumentParser
import FormnetServer

struct ListCidrs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the network's CIDRs.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var name: NetworkArgument
    @Flag(help: "Show the CIDRs as a tree.")
    var tree = false

    func run() throws {
        let (_, store) = try global.files(name.network).open()
        let cidrs = try store.cidrs()
        print(tree ? Listing.cidrTree(cidrs) : Listing.cidrs(cidrs))
    }
}
