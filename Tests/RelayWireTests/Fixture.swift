import RelayWire
import WireGuard

/// Fixed keys and addresses so that every layout test is repeatable.
enum Fixture {
    static let keyA = PublicKey(bytes: Array(0..<32).map { UInt8($0) })!
    static let keyB = PublicKey(bytes: Array(0..<32).map { UInt8(0xFF - $0) })!
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
