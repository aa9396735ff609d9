import ArgumentParser
import WireGuard

struct PubKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pubkey",
        abstract: "Read a private key (base64) on standard input and print its public key, as `wg pubkey` does.")

    func run() throws {
        guard let line = readLine(strippingNewline: true), let key = PrivateKey(base64: line) else {
            throw ValidationError("standard input is not a base64 WireGuard private key")
        }
        print(key.publicKey.base64)
    }
}
