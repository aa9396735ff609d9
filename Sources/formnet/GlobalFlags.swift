/// innernet puts its global flags before the subcommand; swift-argument-parser wants a
/// subcommand's options after its name, and a root-level option group would swallow the same
/// names (`--backend`, `--data-dir`) from `wg` and `start-relay`. So the leading global flags are
/// moved to the end of the command line, where whichever subcommand runs parses them.
enum GlobalFlags {
    static let withValue: Set<String> = ["--config-dir", "--data-dir", "--backend", "--mtu", "--hosts-path", "--log-level"]
    static let withoutValue: Set<String> = ["--no-routing", "--no-write-hosts"]

    static func movedBehindSubcommand(_ arguments: [String]) -> [String] {
        var moved: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = String(argument.split(separator: "=", maxSplits: 1).first ?? "")
            if withoutValue.contains(argument) || (withValue.contains(name) && argument.contains("=")) {
                moved.append(argument)
                index += 1
            } else if withValue.contains(argument), index + 1 < arguments.count {
                moved += [argument, arguments[index + 1]]
                index += 2
            } else {
                break
            }
        }
        guard !moved.isEmpty, index < arguments.count else { return arguments }
        return Array(arguments[index...]) + moved
    }
}
