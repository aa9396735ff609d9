import Foundation
import Testing
@testable import WireGuard

@Suite struct SecretFileTests {
    func scratchDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("formnet-secretfile-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func writesMode0600AndReplacesAtomically() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/wg0.key"
        let oldMask = umask(0)
        defer { umask(oldMask) }
        try SecretFile.write("first\n", to: path)
        try SecretFile.write("second\n", to: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try SecretFile.read(path) == "second\n")
        // No temporary file is left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["wg0.key"])
    }

    @Test func refusesToReadAWorldReadableKey() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/loose.key"
        try SecretFile.write("k\n", to: path)
        chmod(path, 0o644)
        #expect(throws: SecretFile.InsecurePermissions.self) { try SecretFile.read(path) }
    }

    @Test func failedWriteLeavesNothingBehind() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Renaming onto a directory fails after the temp file was written.
        try FileManager.default.createDirectory(atPath: "\(dir)/occupied", withIntermediateDirectories: false)
        #expect(FileManager.default.createFile(atPath: "\(dir)/occupied/x", contents: Data()))
        #expect(throws: WireGuardError.self) { try SecretFile.write("k\n", to: "\(dir)/occupied") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["occupied"])
    }
}
