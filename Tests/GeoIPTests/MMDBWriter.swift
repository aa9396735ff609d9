import FormnetKit
import Foundation
import WireGuard
@testable import GeoIP

/// Writes a small IPv4 MaxMind DB in the GeoLite2-City layout, so tests have a database of
/// their own (format: MaxMind DB File Format Specification 2.0: a binary search tree with
/// 24-bit records, 16 zero bytes, the data section, then the metadata after its marker).
struct MMDBWriter {
    private enum Record { case empty, node(Int), data(Int) }
    private var nodes: [[Record]] = [[.empty, .empty]]
    private var data: [UInt8] = []

    mutating func insert(_ network: IPNetwork, _ location: GeoLocation) {
        guard case .v4(let address) = network.address else { preconditionFailure("IPv4 only") }
        var record: [(String, Value)] = [
            ("location", .map([("latitude", .double(location.latitude)), ("longitude", .double(location.longitude))])),
        ]
        if let country = location.country { record.append(("country", .map([("iso_code", .string(country))]))) }
        let offset = data.count
        data += Value.map(record).encoded
        var node = 0
        for depth in 0..<network.prefixLength {
            let bit = Int(address >> (31 - UInt32(depth)) & 1)
            if depth == network.prefixLength - 1 {
                nodes[node][bit] = .data(offset)
            } else if case .node(let next) = nodes[node][bit] {
                node = next
            } else {
                nodes.append([.empty, .empty])
                nodes[node][bit] = .node(nodes.count - 1)
                node = nodes.count - 1
            }
        }
    }

    func bytes() -> [UInt8] {
        let count = nodes.count
        func value(_ r: Record) -> Int {
            switch r {
            case .empty: return count
            case .node(let i): return i
            case .data(let offset): return count + 16 + offset
            }
        }
        var out: [UInt8] = []
        for node in nodes {
            for record in node {
                let v = value(record)
                out += [UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
            }
        }
        out += [UInt8](repeating: 0, count: 16)
        out += data
        out += [0xAB, 0xCD, 0xEF] + Array("MaxMind.com".utf8)
        out += Value.map([
            ("binary_format_major_version", .uint16(2)),
            ("binary_format_minor_version", .uint16(0)),
            ("build_epoch", .uint64(1_700_000_000)),
            ("database_type", .string("formnet-test-City")),
            ("description", .map([("en", .string("formnet test locations"))])),
            ("ip_version", .uint16(4)),
            ("languages", .array([.string("en")])),
            ("node_count", .uint32(UInt32(count))),
            ("record_size", .uint16(24)),
        ]).encoded
        return out
    }

    func write(to path: String) throws {
        try Data(bytes()).write(to: URL(fileURLWithPath: path))
    }

    indirect enum Value {
        case string(String), double(Double), uint16(UInt16), uint32(UInt32), uint64(UInt64)
        case map([(String, Value)]), array([Value])

        var encoded: [UInt8] {
            switch self {
            case .string(let s): return Self.control(2, Array(s.utf8).count) + Array(s.utf8)
            case .double(let d): return Self.control(3, 8) + (0..<8).map { UInt8(d.bitPattern >> (56 - 8 * UInt64($0)) & 0xFF) }
            case .uint16(let v): return Self.unsigned(5, UInt64(v))
            case .uint32(let v): return Self.unsigned(6, UInt64(v))
            case .uint64(let v): return Self.unsigned(9, v)
            case .map(let pairs): return Self.control(7, pairs.count) + pairs.flatMap { Value.string($0.0).encoded + $0.1.encoded }
            case .array(let items): return Self.control(11, items.count) + items.flatMap(\.encoded)
            }
        }

        /// Minimal big-endian bytes, as the format stores unsigned integers.
        static func unsigned(_ type: Int, _ v: UInt64) -> [UInt8] {
            var bytes: [UInt8] = []
            var rest = v
            while rest > 0 {
                bytes.insert(UInt8(rest & 0xFF), at: 0)
                rest >>= 8
            }
            return control(type, bytes.count) + bytes
        }

        /// Types 1–7 live in the control byte; larger ones in an extra byte after it (type - 7).
        static func control(_ type: Int, _ size: Int) -> [UInt8] {
            precondition(size < 29, "the test writer only needs short values")
            return type <= 7 ? [UInt8(type << 5 | size)] : [UInt8(size), UInt8(type - 7)]
        }
    }
}
