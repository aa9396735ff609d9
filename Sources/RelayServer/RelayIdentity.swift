import Foundation
import WireGuard

/// The relay's X25519 key pair, `DATA_DIR/relay.key`: created on first start, refused if anyone
/// but the owner can read it (as ssh refuses such a key), never logged.
public enum RelayIdentity {
    public static let fileName = "relay.key"

    public struct IdentityError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func path(dataDirectory: String) -> String {
        (dataDirectory as NSString).appendingPathComponent(fileName)
    }

    /// The key and whether it was made now.
    public static func loadOrCreate(dataDirectory: String) throws -> (key: PrivateKey, created: Bool) {
        let path = path(dataDirectory: dataDirectory)
        if FileManager.default.fileExists(atPath: path) {
            // SecretFile.read refuses a key that group or others can read, with a chmod hint.
            let text = try SecretFile.read(path)
            guard let key = PrivateKey(base64: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw IdentityError(description: "\(path) does not hold a base64 private key")
            }
            return (key, false)
        }
        if !FileManager.default.fileExists(atPath: dataDirectory) {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let key = PrivateKey.generate()
        try SecretFile.write(key.base64 + "\n", to: path)
        return (key, true)
    }
}
