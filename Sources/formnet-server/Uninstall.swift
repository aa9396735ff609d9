import ArgumentParser
import Foundation
import FormnetServer

struct Uninstall: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete a network: its interface if up, its config and its database.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var name: NetworkArgument
    @Flag(help: "Confirm: the network's keys and registry are gone for good.")
    var yes = false

    func run() throws {
        let files = try global.files(name.network)
        guard FileManager.default.fileExists(atPath: files.configPath) || FileManager.default.fileExists(atPath: files.databasePath) else {
            throw ValidationError("unknown network '\(name.network)': nothing at \(files.configPath) or \(files.databasePath)")
        }
        guard yes else {
            throw ValidationError("this deletes \(files.configPath) and \(files.databasePath) for good; pass --yes to confirm")
        }
        let backend = global.backend.makeBackend()
        if (try? backend.interfaces())?.contains(name.network) == true {
            try backend.deleteInterface(named: name.network)
            print("removed interface \(name.network)")
        }
        for path in [files.configPath, files.databasePath] where FileManager.default.fileExists(atPath: path) {
            try FileManager.default.removeItem(atPath: path)
            print("deleted \(path)")
        }
    }
}
