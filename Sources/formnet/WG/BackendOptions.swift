import ArgumentParser
import WireGuard

extension BackendKind: ExpressibleByArgument {}

struct BackendOptions: ParsableArguments {
    @Option(help: "WireGuard implementation: kernel (the module, over netlink) or userspace (wireguard-go).")
    var backend: BackendKind = .kernel

    func make() -> any WireGuardBackend {
        backend.makeBackend()
    }
}

/// The interface name argument every `formnet wg` subcommand takes, checked before anything runs.
struct InterfaceArgument: ParsableArguments {
    @Argument(help: "Interface name (at most 15 characters).")
    var interface: String

    func validate() throws {
        do {
            try InterfaceName.validate(interface)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}
