import FormnetKit
import Foundation

/// The text `list-peers` and `list-cidrs` print.
public enum Listing {
    public static func peers(_ peers: [NetworkPeer], cidrs: [Cidr]) -> String {
        let cidrNames = Dictionary(cidrs.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        let rows = peers.map { peer in
            var flags: [String] = []
            if peer.isAdmin { flags.append("admin") }
            if peer.isDisabled { flags.append("disabled") }
            if !peer.isRedeemed {
                flags.append("invited" + (peer.inviteExpires.map { " until \($0.ISO8601Format())" } ?? ""))
            }
            return [peer.name, peer.ip.description, cidrNames[peer.cidrId] ?? "?", peer.publicKey.base64,
                    peer.endpoint?.description ?? "-", flags.joined(separator: ",")]
        }
        return table(header: ["NAME", "IP", "CIDR", "PUBLIC KEY", "ENDPOINT", "FLAGS"], rows: rows)
    }

    public static func cidrs(_ cidrs: [Cidr]) -> String {
        let names = Dictionary(cidrs.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        let rows = cidrs.map { [$0.name, $0.cidr.description, $0.parent.flatMap { names[$0] } ?? "-"] }
        return table(header: ["NAME", "CIDR", "PARENT"], rows: rows)
    }

    /// The CIDRs as an indented tree under the root.
    public static func cidrTree(_ cidrs: [Cidr]) -> String {
        var children: [Int64?: [Cidr]] = [:]
        for cidr in cidrs { children[cidr.parent, default: []].append(cidr) }
        var lines: [String] = []
        var visited: Set<Int64> = []
        func walk(_ parent: Int64?, depth: Int) {
            for cidr in children[parent] ?? [] where visited.insert(cidr.id).inserted {
                lines.append(String(repeating: "  ", count: depth) + "\(cidr.cidr) \(cidr.name)")
                walk(cidr.id, depth: depth + 1)
            }
        }
        walk(nil, depth: 0)
        return lines.joined(separator: "\n")
    }

    static func table(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
