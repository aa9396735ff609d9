import ArgumentParser
import FormnetAgent
import WireGuard

struct AddBootstrapRelay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-bootstrap-relay",
        abstract: "Add a relay that no coordination server lists (kept in the relay registry).",
        discussion: "The key is what is trusted: the relay is used only once its answer to registration proves it holds the key. A running daemon takes the relay within 10 seconds.")

    @Argument(help: ArgumentHelp("The relay's UDP and TCP endpoint.", valueName: "IP:PORT"), transform: RelayArguments.endpoint)
    var endpoint: Endpoint
    @Argument(help: ArgumentHelp("The relay's base64 public key, as start-relay prints it.", valueName: "PUBKEY"),
              transform: RelayArguments.key)
    var publicKey: PublicKey
    @OptionGroup var options: MemberOptions

    func run() throws {
        let logger = options.logger
        switch try BootstrapRelays.add(endpoint: endpoint, key: publicKey, paths: options.agentOptions.paths,
                                       warn: { logger.warning("\($0)") }) {
        case .added: print("added bootstrap relay \(endpoint) (\(publicKey))")
        case .duplicate: print("relay \(endpoint) (\(publicKey)) is already a bootstrap relay: nothing changed")
        case .endpointUpdated(let previous): print("bootstrap relay \(publicKey) moved from \(previous) to \(endpoint)")
        }
    }
}

/// The relay arguments of the bootstrap-relay commands, parsed once, by the argument parser.
enum RelayArguments {
    static func endpoint(_ text: String) throws -> Endpoint {
        guard let parsed = Endpoint(text) else {
            throw ValidationError("'\(text)' is not an endpoint: give IP:PORT or [IPv6]:PORT")
        }
        guard parsed.port != 0, parsed.address != .v4(0), parsed.address != .v6(0, 0) else {
            throw ValidationError("'\(text)' cannot be reached: give the relay's address and port")
        }
        return parsed
    }

    static func key(_ text: String) throws -> PublicKey {
        guard let key = PublicKey(base64: text) else {
            throw ValidationError("'\(text)' is not a WireGuard public key (44 base64 characters)")
        }
        return key
    }
}

struct DeleteBootstrapRelay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete-bootstrap-relay",
        abstract: "Remove a relay added with add-bootstrap-relay (a relay a server also lists stays known from it).")

    @Argument(help: ArgumentHelp("The relay's base64 public key.", valueName: "PUBKEY"), transform: RelayArguments.key)
    var publicKey: PublicKey
    @OptionGroup var options: MemberOptions

    func run() throws {
        let logger = options.logger
        guard try BootstrapRelays.delete(key: publicKey, paths: options.agentOptions.paths, warn: { logger.warning("\($0)") }) else {
            throw AgentError.invalidInput("\(publicKey) is not a bootstrap relay ('formnet list-relays' shows each relay's source)")
        }
        print("removed bootstrap relay \(publicKey)")
    }
}
