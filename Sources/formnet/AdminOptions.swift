import ArgumentParser
import FormnetAgent

/// What every admin command needs: the network whose config names the server and holds our key.
struct AdminOptions: ParsableArguments {
    @OptionGroup var network: NetworkArgument
    @OptionGroup var options: MemberOptions

    func administration() throws -> Administration {
        let member = try options.member(network.network)
        return Administration(client: try member.client(), config: try member.config())
    }
}
