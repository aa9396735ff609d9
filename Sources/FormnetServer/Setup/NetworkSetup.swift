import FormnetKit
import Foundation
import WireGuard

/// `formnet-server new`: a fresh network's key, config and database, made whole or not at all.
public enum NetworkSetup {
    /// Creates the network and returns its config. The server takes the first host address of
    /// the network; nothing is written if the network exists or any input is wrong.
    @discardableResult
    public static func create(files: ServerFiles, cidr: IPNetwork, externalEndpoint: Endpoint, listenPort: UInt16) throws -> ServerConfig {
        guard cidr == cidr.canonical else {
            throw StoreError(.invalid, "network CIDR \(cidr) has host bits set; did you mean \(cidr.canonical)?")
        }
        guard cidr.prefixLength <= cidr.address.bitWidth - 2 else {
            throw StoreError(.invalid, "network CIDR \(cidr) is too small: it needs room for the server and members")
        }
        guard files.network != ServerNames.infrastructureCidr else {
            throw StoreError(.invalid, "'\(files.network)' is reserved for the server's own CIDR; choose another network name")
        }
        guard listenPort != 0 else { throw StoreError(.invalid, "the listen port must not be 0") }
        for path in [files.configPath, files.databasePath] where FileManager.default.fileExists(atPath: path) {
            throw StoreError(.conflict, "network '\(files.network)' already exists (\(path))")
        }
        guard let serverIP = AddressRules.next(cidr.address) else {
            throw StoreError(.invalid, "network CIDR \(cidr) has no first host address")
        }
        try makeDirectory(files.paths.configDir)
        try makeDirectory(files.paths.dataDir)

        let key = PrivateKey.generate()
        let config = ServerConfig(privateKey: key.base64, listenPort: listenPort, address: serverIP,
                                  networkCidrPrefix: cidr.prefixLength, externalEndpoint: externalEndpoint)
        do {
            let store = try Store(path: files.databasePath, create: true)
            // The registry maps every member's key to its address: nobody else's business.
            guard chmod(files.databasePath, 0o600) == 0 else {
                throw StoreError(.invalid, "cannot restrict \(files.databasePath) to mode 600 (errno \(errno))")
            }
            try store.createNetwork(name: files.network, root: cidr, serverIP: serverIP, serverKey: key.publicKey,
                                    externalEndpoint: externalEndpoint)
            try config.save(to: files.configPath)
        } catch {
            for path in [files.databasePath, files.configPath] { try? FileManager.default.removeItem(atPath: path) }
            throw error
        }
        return config
    }

    /// Creates a directory only root can enter, or leaves an existing one as it is.
    static func makeDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw StoreError(.invalid, "\(path) exists and is not a directory") }
            return
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
    }
}
