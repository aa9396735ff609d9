import ArgumentParser
import WireGuard

struct WGDown: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Remove an interface (for userspace, stop its wireguard-go).")

    @OptionGroup var name: InterfaceArgument
    @OptionGroup var backend: BackendOptions

    func run() throws {
        try backend.make().deleteInterface(named: name.interface)
    }
}
