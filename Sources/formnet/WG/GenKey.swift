import ArgumentParser
import WireGuard

struct GenKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "genkey",
        abstract: "Print a new private key (base64), as `wg genkey` does.")

    func run() throws {
        print(PrivateKey.generate().base64)
    }
}
