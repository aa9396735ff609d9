import RelayWire
import RelayServer
import WireGuard

/// Fixed keys and a clock so that every test is repeatable.
enum Fixture {
    static let relayKey = PrivateKey(bytes: [UInt8](repeating: 0x11, count: 32))!
    static let aliceKey = PrivateKey(bytes: [UInt8](repeating: 0x22, count: 32))!
    static let bobKey = PrivateKey(bytes: [UInt8](repeating: 0x33, count: 32))!
    static let keyA = PublicKey(bytes: Array(0..<32).map { UInt8($0) })!
    static let keyB = PublicKey(bytes: Array(0..<32).map { UInt8(0xFF - $0) })!
    static let now = RelayInstant(wallMillis: 1_700_000_000_000, monotonicNanos: 5_000_000_000)
    static let aliceAddress = RelayAddress(Endpoint("198.51.100.7:40000")!)
    static let bobAddress = RelayAddress(Endpoint("[2001:db8::9]:40001")!)
    static let nonce = Array(100..<124).map { UInt8($0) }

    static func bytes(_ hex: String) -> [UInt8] {
        let digits = hex.filter { !$0.isWhitespace }
        var out = [UInt8]()
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            out.append(UInt8(digits[index..<next], radix: 16)!)
            index = next
        }
        return out
    }
}

/// Channel ports without sockets: descriptors and ports count up from fixed starts, and what
/// the state closes is recorded.
final class FakeChannelPorts: ChannelPorts, @unchecked Sendable {
    // Only the test's thread touches these.
    private(set) var opened: [Int32] = []
    private(set) var closed: [Int32] = []
    var refuse = false

    func open() -> (descriptor: Int32, port: UInt16)? {
        guard !refuse else { return nil }
        let descriptor = Int32(100 + opened.count)
        opened.append(descriptor)
        return (descriptor, UInt16(40_000 + opened.count - 1))
    }

    func close(_ descriptor: Int32) { closed.append(descriptor) }
}

/// WireGuard-shaped packets, for what a channel accepts, with the session indices a relay reads.
enum WireGuardPacket {
    static let initiation: [UInt8] = initiation(sender: 0xABAB_ABAB)
    static func transport(_ bodyLength: Int) -> [UInt8] { transport(receiver: 0xCDCD_CDCD, bodyLength) }

    static func initiation(sender: UInt32) -> [UInt8] { [1, 0, 0, 0] + bytes(sender) + [UInt8](repeating: 0xAB, count: 140) }
    static func response(sender: UInt32, receiver: UInt32) -> [UInt8] {
        [2, 0, 0, 0] + bytes(sender) + bytes(receiver) + [UInt8](repeating: 0x77, count: 80)
    }
    static func transport(receiver: UInt32, _ bodyLength: Int) -> [UInt8] {
        [4, 0, 0, 0] + bytes(receiver) + [UInt8](repeating: 0xCD, count: 24 + bodyLength)
    }

    /// WireGuard writes indices little-endian.
    private static func bytes(_ index: UInt32) -> [UInt8] { withUnsafeBytes(of: index.littleEndian) { Array($0) } }
}
