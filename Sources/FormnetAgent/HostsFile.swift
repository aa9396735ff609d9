import Foundation
import WireGuard

/// The hosts-file block innernet writes, so peers are reachable as NAME.NETWORK.wg:
///
///     # BEGIN formnet NET
///     10.66.1.2	alice.NET.wg
///     # END formnet NET
///
/// Every line outside the block is kept as it was.
public enum HostsFile {
    public static let defaultPath = "/etc/hosts"

    public struct Entry: Sendable, Equatable {
        public var ip: IPAddress
        public var name: String
        public init(ip: IPAddress, name: String) {
            self.ip = ip
            self.name = name
        }
    }

    static func begin(_ network: String) -> String { "# BEGIN formnet \(network)" }
    static func end(_ network: String) -> String { "# END formnet \(network)" }

    /// `text` with the network's block replaced by one for `entries` (or removed when `entries`
    /// is nil), added at the end if there was none.
    public static func rewrite(_ text: String, network: String, entries: [Entry]?) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        var kept: [String] = []
        var insertAt: Int?
        var inBlock = false
        for line in lines {
            if line == begin(network) {
                inBlock = true
                insertAt = insertAt ?? kept.count
            } else if inBlock {
                if line == end(network) { inBlock = false }
            } else {
                kept.append(line)
            }
        }
        if let entries {
            let sorted = entries.sorted { ($0.name, $0.ip.description) < ($1.name, $1.ip.description) }
            let block = [begin(network)] + sorted.map { "\($0.ip)\t\($0.name).\(network).wg" } + [end(network)]
            kept.insert(contentsOf: block, at: insertAt ?? kept.count)
        }
        return kept.isEmpty ? "" : kept.joined(separator: "\n") + "\n"
    }

    /// Rewrites the file in place atomically, keeping its mode (0644 for a new file).
    public static func update(path: String, network: String, entries: [Entry]?) throws {
        let existing = FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let updated = rewrite(existing, network: network, entries: entries)
        guard updated != existing else { return }
        var st = stat()
        let mode: mode_t = stat(path, &st) == 0 ? st.st_mode & 0o7777 : 0o644
        try AtomicFile.write(updated, to: path, mode: mode)
    }
}
