/// WireGuard-shaped packets, for what a relay's channel accepts.
enum WireGuardPacket {
    static let initiation: [UInt8] = [1, 0, 0, 0] + [UInt8](repeating: 0xAB, count: 144)
    static func transport(_ bodyLength: Int) -> [UInt8] { [4, 0, 0, 0] + [UInt8](repeating: 0xCD, count: 28 + bodyLength) }
}
