/// cookie (0x10), relay → client: the answer to a register frame that had to prove its source
/// address (the relay is under load, or has just started). The client registers again with a
/// nonce that begins with the cookie. The nonce is inside what the client's box authenticates,
/// so a register frame captured earlier cannot be given a cookie it did not have; and the cookie
/// is in clear, so the relay checks it before the X25519 operation that opening the box costs.
public struct CookieFrame: Equatable, Sendable {
    static let nonceOffset = RelayWire.headerLength
    static let cookieOffset = nonceOffset + RelayWire.nonceLength
    public static let length = cookieOffset + RelayWire.cookieLength
    /// The nonce of the register frame this answers, so that the client takes only its own.
    public var nonce: [UInt8]
    public var cookie: [UInt8]

    public init(nonce: [UInt8], cookie: [UInt8]) {
        precondition(nonce.count == RelayWire.nonceLength && cookie.count == RelayWire.cookieLength)
        self.nonce = nonce
        self.cookie = cookie
    }

    public func encode() -> [UInt8] {
        var bytes = header(.cookie, capacity: Self.length)
        bytes.append(contentsOf: nonce)
        bytes.append(contentsOf: cookie)
        return bytes
    }

    public static func decode(_ frame: UnsafeRawBufferPointer) -> CookieFrame? {
        guard frame.count == length, hasHeader(frame, .cookie) else { return nil }
        return CookieFrame(nonce: Array(frame[nonceOffset..<cookieOffset]), cookie: Array(frame[cookieOffset..<length]))
    }
}
