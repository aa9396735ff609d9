/// Names users choose: networks (which are also interface names), peers and CIDRs.
public enum Names {
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// A network name becomes the WireGuard interface name and a file name, so it follows
    /// innernet's rule: lower-case letters, digits and '-', at most 15 characters.
    public static func validateNetwork(_ name: String) throws(Invalid) {
        guard (1...15).contains(name.utf8.count), name.utf8.allSatisfy(isLabelByte),
              name.first != "-" else {
            throw Invalid(description: "invalid network name '\(name)': use 1–15 characters from a–z, 0–9 and '-', not starting with '-'")
        }
        // NET.json is a network's peer cache in the data dir, where relays.json is the relay registry.
        guard name != "relays" else {
            throw Invalid(description: "invalid network name 'relays': the data dir's relays.json is the relay registry")
        }
    }

    /// Peer and CIDR names become host names (`NAME.NETWORK.wg` in hosts files): one DNS label.
    public static func validateHost(_ name: String, kind: String = "peer") throws(Invalid) {
        guard (1...63).contains(name.utf8.count), name.utf8.allSatisfy(isLabelByte),
              name.first != "-", name.last != "-" else {
            throw Invalid(description: "invalid \(kind) name '\(name)': use 1–63 characters from a–z, 0–9 and '-', not starting or ending with '-'")
        }
    }

    private static func isLabelByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-")
    }
}
