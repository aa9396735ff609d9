/// WireGuard-shaped packets, for what a relay's channel accepts. The initiation's sender index
/// is 0xABABABAB; `response` names it, as the peer's WireGuard would.
enum WireGuardPacket {
    static let initiation: [UInt8] = [1, 0, 0, 0] + [UInt8](repeating: 0xAB, count: 144)
    static let response: [UInt8] = [2, 0, 0, 0] + [0x01, 0x02, 0x03, 0x04] + [UInt8](repeating: 0xAB, count: 4)
        + [UInt8](repeating: 0x77, count: 80)
    static func transport(_ bodyLength: Int) -> [UInt8] { [4, 0, 0, 0] + [UInt8](repeating: 0xCD, count: 28 + bodyLength) }
}
