import ArgumentParser

struct ListCidrs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list-cidrs", abstract: "List the network's CIDRs (admin).")

    @OptionGroup var admin: AdminOptions
    @Flag(help: "Show them as a tree.") var tree = false

    func run() throws {
        for line in try admin.administration().listCidrs(tree: tree) { print(line) }
    }
}
