import ArgumentParser
import FormnetAgent
import FormnetKit
import RelayWire
import RelayServer
import Foundation
import WireGuard
import Logging

struct StartRelay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start-relay",
        abstract: "Serve as a relay for peers that cannot reach each other directly.",
        discussion: """
            Exactly one of --allow-keys, --network or --open chooses whom the relay serves. \
            With --network the relay is also announced to the network's server (CONFIG_DIR/NET.conf), \
            so its members learn of it, and withdrawn when it stops. \
            The relay's key pair is kept in DATA_DIR/relay.key; its public key is printed at start. \
            The protocol is specified in docs/relay-protocol.md.
            """)

    @Option(help: "UDP and TCP port.") var port: UInt16 = RelayWire.defaultPort
    @Option(help: "Address to bind (default: all, IPv4 and IPv6).") var bind: String?
    @Option(help: "Maximum concurrent registrations.") var maxConnections = 100
    @Option(help: "Maximum TCP connections from one IPv4 address or IPv6 /64.") var maxTcpPerAddress = 8
    @Option(help: "With --open: maximum registrations from one IPv4 address or IPv6 /64.") var maxSessionsPerAddress = 16
    @Option(help: "Bandwidth per tunnel, KB/s (default: 1000 with --open or --allow-keys; none with --network, whose members get the relay's full speed).")
    var maxBandwidth: Int?
    @Option(help: """
        Maximum destinations one registered key talks to at once (one idle a minute gives its place), \
        and channels it holds (default: 20 with --open or --allow-keys; 256 with --network).
        """) var maxTunnelsPerDevice: Int?
    @Option(help: "Maximum channel ports open at once (0: none; clients then send data frames).") var maxChannels = 1024
    @Option(help: "UDP ports for channels, LOW-HIGH; open them to clients in the firewall.") var channelPorts = "51822-52845"
    @Option(help: "Frames per second per source IP address (default: 20000 with --open or --allow-keys; 1000000 with --network).")
    var rateLimit: Int?
    @Option(help: "File of base64 public keys to serve, one a line; reloaded when it changes.") var allowKeys: String?
    @Option(help: "Serve the members of this formnet network (DATA_DIR/NET.members).") var network: String?
    @Flag(help: "Serve every key, within the limits.") var open = false
    @Option(help: "Another relay to list in discovery and announce to: HOST:PORT:PUBKEY.") var peerRelay: [String] = []
    @Option(help: "Serve status and metrics over HTTP on 127.0.0.1 at this port.") var statusPort: Int?
    @Option(help: "Address for the status server.") var statusBind = "127.0.0.1"
    @Flag(help: "Serve members' keys and addresses at /peers and /peers/KEY on the status port (every local user can read them).")
    var statusPeers = false
    @Option(help: "Directory for the relay key and network member files.") var dataDir = Paths.defaultDataDir
    @Option(help: "Directory of interface configs, for the server that --network announces to.") var configDir = Paths.defaultConfigDir
    @Option(help: "This relay's location, LAT,LON in degrees.") var location: String?
    @Option(help: """
        Public endpoint to advertise in relay info (repeatable): IP:PORT. The first is announced to \
        the --network server, which otherwise gives members this host's observed address with --port.
        """) var endpoint: [String] = []
    @Flag(help: "Log at debug level.") var verbose = false

    func validate() throws {
        let chosen = [allowKeys != nil, network != nil, open].filter { $0 }.count
        guard chosen == 1 else {
            throw ValidationError("""
                choose whom the relay serves with exactly one of --allow-keys FILE, --network NET or --open \
                (a relay without one would forward traffic for anyone on the internet)
                """)
        }
        guard maxConnections > 0, maxTcpPerAddress > 0, maxSessionsPerAddress > 0, maxBandwidth ?? 1 > 0, maxTunnelsPerDevice ?? 1 > 0,
              rateLimit ?? 1 > 0, maxChannels >= 0 else {
            throw ValidationError("limits must be positive")
        }
        guard PortRange.parse(channelPorts) != nil else {
            throw ValidationError("--channel-ports \(channelPorts): expected LOW-HIGH, two ports from 1 to 65535, LOW not above HIGH")
        }
        if let location, RelayLocation(parsing: location) == nil { throw ValidationError("--location takes LAT,LON, e.g. 48.85,2.35") }
        for text in peerRelay where PeerRelayArgument.parse(text) == nil {
            throw ValidationError("--peer-relay \(text): expected HOST:PORT:BASE64KEY")
        }
        for text in endpoint where Endpoint(text) == nil { throw ValidationError("--endpoint \(text): expected IP:PORT") }
        if network != nil, port == 0 {
            throw ValidationError("--network announces the relay's port to the server: give a fixed --port, not 0")
        }
    }

    func run() throws {
        LoggingSystem.bootstrap { label in
            StandardErrorLog(label: label, level: verbose ? .debug : .info)
        }
        let access: AccessSource = if let allowKeys { .allowKeys(path: allowKeys) } else if let network { .network(name: network) } else { .open }
        var options = RelayServiceOptions(access: access, dataDirectory: dataDir)
        options.port = port
        options.channelPorts = PortRange.parse(channelPorts) ?? RelayWire.defaultChannelPorts
        options.bindHost = bind
        options.statusPort = statusPort
        options.statusHost = statusBind
        options.statusPeers = statusPeers
        options.configuration.maxConnections = maxConnections
        options.configuration.maxTCPPerAddress = maxTcpPerAddress
        options.configuration.maxSessionsPerAddress = maxSessionsPerAddress
        let limits = network == nil ? RelayConfiguration.strangerLimits : RelayConfiguration.memberLimits
        options.configuration.maxBandwidthKBps = maxBandwidth ?? limits.bandwidthKBps
        options.configuration.maxTunnelsPerDevice = maxTunnelsPerDevice ?? limits.tunnelsPerDevice
        options.configuration.maxChannels = maxChannels
        options.configuration.rateLimit = rateLimit ?? limits.rateLimit
        options.configuration.location = location.flatMap(RelayLocation.init(parsing:)) ?? .unknown
        options.configuration.peerRelays = peerRelay.compactMap(PeerRelayArgument.parse)
        options.configuration.endpoints = endpoint.compactMap(Endpoint.init).map(RelayAddress.init)

        let logger = Logger(label: "formnet.relay")
        let service = try RelayService(options: options, logger: logger)
        // Written unbuffered: scripts read the key from a pipe while the relay keeps running.
        FileHandle.standardOutput.write(Data("relay public key: \(service.publicKey.base64)\n".utf8))
        // A relay host that is not a member (its member list written by hand) serves without
        // announcing; a member config that exists but cannot be read is still an error.
        let announcer = try network.flatMap { network -> RelayAnnouncer? in
            let path = Paths(configDir: configDir, dataDir: dataDir).interfaceConfig(network)
            guard FileManager.default.fileExists(atPath: path) else {
                logger.warning("\(path) does not exist: serving \(network)'s members without announcing to its server")
                return nil
            }
            return try makeAnnouncer(network: network, relayKey: service.publicKey, logger: logger) { service.registrationCount }
        }
        announcer?.start()
        // Also after a failed start: the server may still list this relay from an earlier run.
        defer { announcer?.stop() }
        try service.run()
    }

    func makeAnnouncer(network: String, relayKey: PublicKey, logger: Logger,
                       load: @escaping @Sendable () -> Int?) throws -> RelayAnnouncer {
        let config = try InterfaceConfig.load(from: Paths(configDir: configDir, dataDir: dataDir).interfaceConfig(network))
        let relay = API.RelayAnnouncement(publicKey: relayKey, port: port, endpoint: endpoint.first.flatMap(Endpoint.init),
                                          location: location.flatMap(GeoLocation.init), capacity: maxConnections, load: 0)
        return RelayAnnouncer(network: network, config: config, relay: relay, logger: logger, load: load)
    }
}
