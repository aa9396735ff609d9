import ArgumentParser
import FormnetAgent

struct Fetch: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Fetch the network's peers once and apply them to the interface.")

    @OptionGroup var network: NetworkArgument
    @OptionGroup var options: MemberOptions

    func run() throws {
        let result = try options.member(network.network).fetch()
        print("\(network.network): \(result.changes) peer change(s)")
        guard result.conflicts.isEmpty else { throw ExitCode(2) }
    }
}
