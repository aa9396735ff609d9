@testable import WireGuard

/// A second, deliberately plain netlink encoder for building kernel replies in tests. It shares
/// no code with the libmnl-based builder, so parsing what it writes checks the parser against an
/// independent reading of the format.
enum NetlinkTestEncoding {
    static func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
    static func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
    static func le64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

    /// struct nlattr (nla_len, nla_type), the payload, zero padding to 4 bytes.
    static func attribute(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        let length = 4 + payload.count
        return le16(UInt16(length)) + le16(type) + payload + [UInt8](repeating: 0, count: (4 - length % 4) % 4)
    }

    static func nest(_ type: UInt16, _ children: [[UInt8]]) -> [UInt8] {
        attribute(type | 0x8000, children.flatMap { $0 })
    }

    static func string(_ type: UInt16, _ text: String) -> [UInt8] {
        attribute(type, Array(text.utf8) + [0])
    }

    /// struct nlmsghdr then the payload (which is already 4-byte aligned here).
    static func message(type: UInt16, flags: UInt16, sequence: UInt32 = 0, payload: [UInt8]) -> [UInt8] {
        le32(UInt32(16 + payload.count)) + le16(type) + le16(flags) + le32(sequence) + le32(0) + payload
    }

    /// genlmsghdr for WG_CMD_GET_DEVICE version 1, as the kernel puts it on each dump part.
    static let wireGuardGetHeader: [UInt8] = [0, 1, 0, 0]
}
