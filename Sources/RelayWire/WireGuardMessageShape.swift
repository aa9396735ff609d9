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
}
