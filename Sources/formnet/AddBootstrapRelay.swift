import ArgumentParser
import FormnetAgent
import WireGuard

struct AddBootstrapRelay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-bootstrap-relay",
        abstract: "Add a relay that no coordination server lists (kept in the relay registry).",
        discussion: "The key is what is trusted: the relay is used only once its answer to registration proves it holds the key. A running daemon takes the relay within 10 seconds.")

    @Argument(help: ArgumentHelp("The relay's UDP and TCP endpoint.", valueName: "IP:PORT")) var endpoint: String
    @Argument(help: ArgumentHelp("The relay's base64 public key, as start-relay prints it.", valueName: "PUBKEY"))
    var publicKey: String
    @OptionGroup var options: MemberOptions

    func validate() throws {
        _ = try parsedEndpoint()
        _ = try parsedKey()
    }

    func run() throws {
        let logger = options.logger
        let (endpoint, key) = (try parsedEndpoint(), try parsedKey())
        switch try BootstrapRelays.add(endpoint: endpoint, key: key, paths: options.agentOptions.paths,
                                       warn: { logger.warning("\($0)") }) {
        case .added: print("added bootstrap relay \(endpoint) (\(key))")
        case .duplicate: print("relay \(endpoint) (\(key)) is already a bootstrap relay: nothing changed")
        case .endpointUpdated(let previous): print("bootstrap relay \(key) moved from \(previous) to \(endpoint)")
        }
    }

    private func parsedEndpoint() throws -> Endpoint {
        guard let parsed = Endpoint(endpoint) else {
            throw ValidationError("'\(endpoint)' is not an endpoint: give IP:PORT or [IPv6]:PORT")
        }
        guard parsed.port != 0, parsed.address != .v4(0), parsed.address != .v6(0, 0) else {
            throw ValidationError("'\(endpoint)' cannot be reached: give the relay's address and port")
        }
        return parsed
    }

    private func parsedKey() throws -> PublicKey {
        guard let key = PublicKey(base64: publicKey) else {
            throw ValidationError("'\(publicKey)' is not a WireGuard public key (44 base64 characters)")
        }
        return key
    }
}

struct DeleteBootstrapRelay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete-bootstrap-relay",
        abstract: "Remove a relay added with add-bootstrap-relay (a relay a server also lists stays known from it).")

    @Argument(help: ArgumentHelp("The relay's base64 public key.", valueName: "PUBKEY")) var publicKey: String
    @OptionGroup var options: MemberOptions

    func validate() throws {
        guard PublicKey(base64: publicKey) != nil else {
            throw ValidationError("'\(publicKey)' is not a WireGuard public key (44 base64 characters)")
        }
    }

    func run() throws {
        let logger = options.logger
        guard let key = PublicKey(base64: publicKey) else { return }
        guard try BootstrapRelays.delete(key: key, paths: options.agentOptions.paths, warn: { logger.warning("\($0)") }) else {
            throw AgentError.invalidInput("\(key) is not a bootstrap relay ('formnet list-relays' shows each relay's source)")
        }
        print("removed bootstrap relay \(key)")
    }
}
