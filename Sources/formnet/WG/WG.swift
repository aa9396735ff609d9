import ArgumentParser

/// Direct control of WireGuard interfaces through formnet's backends, in the manner of wg(8)
/// and wg-quick(8): the layer `formnet up` is built on, exposed for debugging and scripts.
struct WG: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wg",
        abstract: "Control WireGuard interfaces directly through formnet's kernel or userspace backend.",
        subcommands: [WGUp.self, WGSetConf.self, WGShow.self, WGDown.self, GenKey.self, PubKey.self]
    )
}
