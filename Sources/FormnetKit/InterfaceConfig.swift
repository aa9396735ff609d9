import Foundation
import TOMLKit
import WireGuard

/// A member's view of its network, in innernet's TOML layout. An invitation file has exactly
/// this form, holding a temporary private key that `formnet install` replaces on redeeming.
///
///     [interface]
///     network-name = "evilcorp"
///     address = "10.66.1.2/16"        # this peer's IP, with the network's prefix
///     private-key = "…"
///     listen-port = 51820             # optional
///     mtu = 1420                      # optional
///     relay-fallback = false          # optional; relays are used unless this is false
///
///     [server]
///     public-key = "…"
///     external-endpoint = "203.0.113.7:51820"
///     internal-endpoint = "10.66.0.1:51820"
public struct InterfaceConfig: Codable, Sendable, Equatable {
    public struct Interface: Codable, Sendable, Equatable {
        public var networkName: String
        public var address: IPNetwork
        public var privateKey: String
        public var listenPort: UInt16?
        public var mtu: UInt32?
        /// `formnet configure-relay --enable/--disable`; absent means enabled.
        public var relayFallback: Bool?

        enum CodingKeys: String, CodingKey {
            case networkName = "network-name", address, privateKey = "private-key", listenPort = "listen-port", mtu
            case relayFallback = "relay-fallback"
        }

        public init(networkName: String, address: IPNetwork, privateKey: String, listenPort: UInt16? = nil, mtu: UInt32? = nil) {
            self.networkName = networkName
            self.address = address
            self.privateKey = privateKey
            self.listenPort = listenPort
            self.mtu = mtu
        }
    }

    public struct Server: Codable, Sendable, Equatable {
        public var publicKey: PublicKey
        public var externalEndpoint: Endpoint
        /// The API's address and port inside the tunnel.
        public var internalEndpoint: Endpoint

        enum CodingKeys: String, CodingKey {
            case publicKey = "public-key", externalEndpoint = "external-endpoint", internalEndpoint = "internal-endpoint"
        }

        public init(publicKey: PublicKey, externalEndpoint: Endpoint, internalEndpoint: Endpoint) {
            self.publicKey = publicKey
            self.externalEndpoint = externalEndpoint
            self.internalEndpoint = internalEndpoint
        }
    }

    public var interface: Interface
    public var server: Server

    public init(interface: Interface, server: Server) {
        self.interface = interface
        self.server = server
    }

    public var privateKey: PrivateKey? { PrivateKey(base64: interface.privateKey) }

    public struct Invalid: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// Parses and checks a config: TOML syntax, every field's form, the key, the network name,
    /// and that the address lies inside its own network.
    public static func parse(_ text: String, path: String) throws(Invalid) -> InterfaceConfig {
        let config: InterfaceConfig
        do {
            config = try TOMLDecoder().decode(InterfaceConfig.self, from: text)
        } catch let error as TOMLParseError {
            throw Invalid(path: path, reason: "not valid TOML (line \(error.source.begin.line)): \(error)")
        } catch {
            throw Invalid(path: path, reason: "\(TOMLErrorText.describe(error))")
        }
        do {
            try Names.validateNetwork(config.interface.networkName)
        } catch {
            throw Invalid(path: path, reason: error.description)
        }
        guard config.privateKey != nil else { throw Invalid(path: path, reason: "private-key is not a base64 WireGuard key") }
        guard config.interface.address.contains(config.server.internalEndpoint.address) else {
            throw Invalid(path: path, reason: "the server's internal endpoint \(config.server.internalEndpoint) is outside the network \(config.interface.address.canonical)")
        }
        return config
    }

    /// Reads a config that must be mode 0600 (it holds a private key).
    public static func load(from path: String) throws -> InterfaceConfig {
        try parse(try SecretFile.read(path), path: path)
    }

    public func render() throws -> String {
        try TOMLEncoder().encode(self)
    }

    /// Writes 0600, atomically.
    public func save(to path: String) throws {
        try SecretFile.write(try render(), to: path)
    }
}

/// Decoding errors from Codable name the key path; that is what a user needs to fix a file.
enum TOMLErrorText {
    static func describe(_ error: any Error) -> String {
        guard let decoding = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map(\.stringValue).joined(separator: ".")
        }
        switch decoding {
        case .keyNotFound(let key, let context):
            // TOMLKit reports a value of the wrong type under an optional key as not found too,
            // and sometimes with the key already at the end of the path.
            var keys = context.codingPath.map(\.stringValue)
            if keys.last != key.stringValue { keys.append(key.stringValue) }
            return "missing or invalid key '\(keys.joined(separator: "."))'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "wrong type for '\(path(context))'"
        case .dataCorrupted(let context):
            return "invalid '\(path(context))': \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
