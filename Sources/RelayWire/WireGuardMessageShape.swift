/// What a relay can check about a WireGuard packet it cannot decrypt: the four message types
/// and their sizes (the WireGuard paper, section 5.4). A channel forwards only what passes, so
/// the relay's channel ports carry WireGuard and nothing else.
public enum WireGuardMessageShape {
    static let initiationLength = 148
    static let responseLength = 92
    static let cookieReplyLength = 64
    /// Header (16) and authentication tag (16) of an empty (keepalive) transport message.
    static let minimumTransportLength = 32

    @inline(__always)
    public static func isPlausible(_ packet: UnsafeRawBufferPointer) -> Bool {
        guard packet.count >= minimumTransportLength, packet.count <= RelayWire.maxPayload,
              packet[1] == 0, packet[2] == 0, packet[3] == 0 else { return false }
        switch packet[0] {
        case 1: return packet.count == initiationLength
        case 2: return packet.count == responseLength
        case 3: return packet.count == cookieReplyLength
        case 4: return true
        default: return false
        }
    }

    /// A handshake initiation (1) or response (2): what WireGuard resends only after 5 s when lost.
    @inline(__always)
    public static func isHandshake(_ packet: UnsafeRawBufferPointer) -> Bool {
        isPlausible(packet) && (packet[0] == 1 || packet[0] == 2)
    }

    /// The index the sender chose for the session, in an initiation (1) or a response (2) that
    /// passed `isPlausible`; its peer puts it in every message it sends back.
    @inline(__always)
    public static func senderIndex(_ packet: UnsafeRawBufferPointer) -> UInt32? {
        packet[0] == 1 || packet[0] == 2 ? packet.loadUnaligned(fromByteOffset: 4, as: UInt32.self) : nil
    }

    /// The index of the receiver's, in a response (2), cookie reply (3) or transport message (4)
    /// that passed `isPlausible`: only whoever saw the receiver's initiation or response knows it.
    @inline(__always)
    public static func receiverIndex(_ packet: UnsafeRawBufferPointer) -> UInt32? {
        switch packet[0] {
        case 2: packet.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        case 3, 4: packet.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        default: nil
        }
    }
}
