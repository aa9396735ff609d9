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
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & 0o077 == 0 else {
                throw IdentityError(description: "\(path) is readable by others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it")
            }
            guard let data = FileManager.default.contents(atPath: path),
                  let key = PrivateKey(base64: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw IdentityError(description: "\(path) does not hold a base64 private key")
            }
            return (key, false)
        }
        if !FileManager.default.fileExists(atPath: dataDirectory) {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let key = PrivateKey.generate()
        try AtomicPrivateFile.write(Array((key.base64 + "\n").utf8), to: path)
        return (key, true)
    }
}
