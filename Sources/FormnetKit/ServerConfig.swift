import Foundation
import TOMLKit
import WireGuard

/// The coordination server's own config (TOML, 0600), one per network:
///
///     private-key = "…"
///     listen-port = 51820
///     address = "10.66.0.1"            # the server's tunnel IP; the API listens here
///     network-cidr-prefix = 16
///     external-endpoint = "203.0.113.7:51820"
public struct ServerConfig: Codable, Sendable, Equatable {
    public var privateKey: String
    public var listenPort: UInt16
    public var address: IPAddress
    public var networkCidrPrefix: Int
    public var externalEndpoint: Endpoint

    enum CodingKeys: String, CodingKey {
        case privateKey = "private-key", listenPort = "listen-port", address
        case networkCidrPrefix = "network-cidr-prefix", externalEndpoint = "external-endpoint"
    }

    public init(privateKey: String, listenPort: UInt16, address: IPAddress, networkCidrPrefix: Int, externalEndpoint: Endpoint) {
        self.privateKey = privateKey
        self.listenPort = listenPort
        self.address = address
        self.networkCidrPrefix = networkCidrPrefix
        self.externalEndpoint = externalEndpoint
    }

    public var privateKeyValue: PrivateKey? { PrivateKey(base64: privateKey) }
    public var network: IPNetwork? { IPNetwork(address: address, prefixLength: networkCidrPrefix)?.canonical }
    /// Where the API listens: the server's tunnel address, on the WireGuard port number over TCP.
    public var apiEndpoint: Endpoint { Endpoint(address: address, port: listenPort) }

    public struct Invalid: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    public static func parse(_ text: String, path: String) throws(Invalid) -> ServerConfig {
        let config: ServerConfig
        do {
            config = try TOMLDecoder().decode(ServerConfig.self, from: text)
        } catch let error as TOMLParseError {
            throw Invalid(path: path, reason: "not valid TOML (line \(error.source.begin.line)): \(error)")
        } catch {
            throw Invalid(path: path, reason: TOMLErrorText.describe(error))
        }
        guard config.privateKeyValue != nil else { throw Invalid(path: path, reason: "private-key is not a base64 WireGuard key") }
        guard config.network != nil else {
            throw Invalid(path: path, reason: "network-cidr-prefix \(config.networkCidrPrefix) does not fit address \(config.address)")
        }
        return config
    }

    public static func load(from path: String) throws -> ServerConfig {
        try parse(try SecretFile.read(path), path: path)
    }

    public func save(to path: String) throws {
        try SecretFile.write(try TOMLEncoder().encode(self), to: path)
    }
}
