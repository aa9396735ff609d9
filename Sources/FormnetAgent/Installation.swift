import Foundation
import FormnetKit
import Logging
import WireGuard

/// `formnet install`: redeem an invitation and become a member.
///
/// The interface comes up with the invitation's temporary key and the server as its only peer;
/// the server is asked to replace that key with a new one generated here (so the private key
/// that ends up in use never left this host); after `API.redeemTransitionWait` the device
/// switches to the new key, the config is written, and a first fetch brings in the other peers.
///
/// Until the server accepted the new key, any failure leaves nothing behind. After that the
/// new key is the member's only identity and the invitation is spent, so the config is kept
/// even if the first fetch fails (the interface is removed and `formnet up` retries); throwing
/// it away would lock the member out for good.
public struct Installation {
    public let options: AgentOptions
    public let setup: InterfaceSetup
    public let logger: Logger

    public init(options: AgentOptions, setup: InterfaceSetup, logger: Logger) {
        self.options = options
        self.setup = setup
        self.logger = logger
    }

    public struct Incomplete: Error, CustomStringConvertible {
        public let network: String
        public let configPath: String
        public let cause: any Error
        public var description: String {
            "the invitation was redeemed and the config written to \(configPath), but the first fetch failed: \(cause); "
                + "run 'formnet up \(network)' to try again"
        }
    }

    /// Reads and checks an invitation file; `name` overrides the network (interface) name.
    public static func readInvitation(_ path: String, name: String?) throws -> InterfaceConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AgentError.invalidInput("cannot read the invitation \(path)")
        }
        var invitation = try InterfaceConfig.parse(String(decoding: data, as: UTF8.self), path: path)
        if let name {
            do {
                try Names.validateNetwork(name)
            } catch {
                throw AgentError.invalidInput(error.description)
            }
            invitation.interface.networkName = name
        }
        return invitation
    }

    /// Returns the member's config, as written to the config dir.
    @discardableResult
    public func install(invitationPath: String, name: String? = nil) throws -> InterfaceConfig {
        let invitation = try Self.readInvitation(invitationPath, name: name)
        let network = invitation.interface.networkName
        let configPath = options.paths.interfaceConfig(network)
        guard !FileManager.default.fileExists(atPath: configPath) else {
            throw AgentError.alreadyInstalled(network: network, path: configPath)
        }
        guard !setup.exists(network) else { throw WireGuardError.interfaceExists(network) }
        try AtomicFile.makeDirectory(options.paths.configDir)
        try AtomicFile.makeDirectory(options.paths.dataDir)

        try setup.bringUp(network, config: invitation, peers: [DesiredPeer.serverPeer(invitation)], options: options)
        let newKey = PrivateKey.generate()
        var config = invitation
        config.interface.privateKey = newKey.base64
        do {
            logger.info("\(network): redeeming the invitation with the server at \(invitation.server.internalEndpoint)")
            try redeem(newKey.publicKey, config: invitation)
            // The server keeps the invitation key this long so its answer gets back to us;
            // switching sooner could cut the tunnel before the answer arrived.
            Thread.sleep(forTimeInterval: Double(API.redeemTransitionWait.components.seconds))
            try setup.backend.apply(DeviceUpdate(privateKey: newKey), to: network)
            try config.save(to: configPath)
        } catch {
            try? setup.backend.deleteInterface(named: network)
            throw error
        }

        do {
            try firstFetch(network: network, config: config)
        } catch {
            try? setup.backend.deleteInterface(named: network)
            throw Incomplete(network: network, configPath: configPath, cause: error)
        }
        if unlink(invitationPath) != 0 {
            logger.warning("could not delete the spent invitation \(invitationPath): \(String(cString: strerror(errno)))")
        }
        return config
    }

    /// A peer just added through the API reaches the server's WireGuard device only at the
    /// server's next refresh, and WireGuard retries a handshake every 5 s, so a connection that
    /// never came about is tried again; one that did is not, as the redeem may have happened.
    ///
    /// The server drops an invitation's key from its device once the invitation expires or is
    /// redeemed, so then no connection comes about at all; the error says that may be why.
    private func redeem(_ key: PublicKey, config: InterfaceConfig) throws {
        let client = APIClient(config: config)
        var attempt = 1
        while true {
            do {
                return try client.redeem(key)
            } catch AgentError.serverUnreachable(let endpoint, let detail, connected: false) {
                guard attempt == Self.redeemAttempts else {
                    attempt += 1
                    continue
                }
                throw AgentError.serverUnreachable(
                    endpoint: endpoint,
                    detail: "\(detail) in \(attempt) tries; the invitation may have expired or been used already "
                        + "(the server then no longer accepts its key), or \(config.server.externalEndpoint) is not reachable",
                    connected: false)
            }
        }
    }

    static let redeemAttempts = 3

    /// The server switches its side to the new key after answering the redeem, and WireGuard
    /// retries a failed handshake only every 5 s, so the first fetch gets a few tries.
    private func firstFetch(network: String, config: InterfaceConfig) throws {
        let sync = StateSync(network: network, config: config, backend: setup.backend, options: options, logger: logger)
        let client = APIClient(config: config)
        var attempt = 1
        while true {
            do {
                try sync.fetch(client: client)
                return
            } catch let error as AgentError where attempt < 4 {
                guard case .serverUnreachable = error else { throw error }
                attempt += 1
            }
        }
    }
}
