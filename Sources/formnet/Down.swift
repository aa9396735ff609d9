import ArgumentParser
import FormnetAgent

struct Down: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove a network's interface; the config stays.")

    @OptionGroup var network: NetworkArgument
    @OptionGroup var options: MemberOptions

    func run() throws {
        try options.member(network.network).down()
    }
}
