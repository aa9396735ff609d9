import FormnetKit

/// CIDRs printed as the tree their parents make, each optionally followed by lines of its own
/// (the peers in it, for `show --tree`).
public enum CidrTree {
    public static func render(_ cidrs: [Cidr], leaves: [Int64: [String]] = [:], indent: String = "") -> [String] {
        let ids = Set(cidrs.map(\.id))
        var children: [Int64?: [Cidr]] = [:]
        for cidr in cidrs {
            // A CIDR whose parent is not visible to us is shown at the top.
            let parent = cidr.parent.flatMap { ids.contains($0) ? $0 : nil }
            children[parent, default: []].append(cidr)
        }
        var lines: [String] = []
        func walk(_ parent: Int64?, depth: Int) {
            let sorted = (children[parent] ?? []).sorted(by: precedes)
            for cidr in sorted {
                let pad = indent + String(repeating: "  ", count: depth)
                lines.append("\(pad)\(cidr.cidr.canonical) \(cidr.name)")
                for leaf in leaves[cidr.id] ?? [] { lines.append("\(pad)  \(leaf)") }
                walk(cidr.id, depth: depth + 1)
            }
        }
        walk(nil, depth: 0)
        return lines
    }

    /// Address order, then shorter prefix first, then name.
    static func precedes(_ a: Cidr, _ b: Cidr) -> Bool {
        let x = a.cidr.canonical.address.bytes, y = b.cidr.canonical.address.bytes
        if x != y { return x.lexicographicallyPrecedes(y) }
        if a.cidr.prefixLength != b.cidr.prefixLength { return a.cidr.prefixLength < b.cidr.prefixLength }
        return a.name < b.name
    }
}
