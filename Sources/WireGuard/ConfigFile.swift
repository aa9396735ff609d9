/// The configuration format of `wg setconf` / `wg showconf`: an `[Interface]` section and one
/// `[Peer]` section per peer. Parsing reports the first bad line by number and changes nothing.
public enum ConfigFile {
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let line: Int
        public let message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// A device whose fields are the file's; `name` is the interface it is meant for.
    public static func parse(_ text: String, name: String) throws(ParseError) -> Device {
        enum Section { case none, interface, peer }
        var device = Device(name: name)
        var section = Section.none
        var peer: Peer?
        var peerLine = 0

        func finishPeer() throws(ParseError) {
            guard let p = peer else { return }
            if device.peers.contains(where: { $0.publicKey == p.publicKey }) {
                throw ParseError(line: peerLine, message: "duplicate peer \(p.publicKey)")
            }
            device.peers.append(p)
            peer = nil
        }

        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                try finishPeer()
                switch line.lowercased() {
                case "[interface]":
                    section = .interface
                case "[peer]":
                    section = .peer
                    peerLine = number
                default:
                    throw ParseError(line: number, message: "unknown section \(line)")
                }
                continue
            }
            guard let eq = line.firstIndex(of: "=") else {
                throw ParseError(line: number, message: "expected 'Key = Value'")
            }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            func invalid(_ what: String) -> ParseError { ParseError(line: number, message: "invalid \(what) '\(value)'") }

            switch (section, key) {
            case (.interface, "privatekey"):
                guard let k = PrivateKey(base64: value) else { throw ParseError(line: number, message: "invalid PrivateKey") }
                device.privateKey = k
                device.publicKey = k.publicKey
            case (.interface, "listenport"):
                guard let p = UInt16(value) else { throw invalid("ListenPort") }
                device.listenPort = p
            case (.interface, "fwmark"):
                guard let m = parseFwmark(value) else { throw invalid("FwMark") }
                device.fwmark = m
            case (.peer, "publickey"):
                if peer != nil { throw ParseError(line: number, message: "second PublicKey in one [Peer]") }
                guard let k = PublicKey(base64: value) else { throw invalid("PublicKey") }
                peer = Peer(publicKey: k)
            case (.peer, _) where peer == nil:
                throw ParseError(line: number, message: "PublicKey must come first in a [Peer] section")
            case (.peer, "presharedkey"):
                guard let k = PresharedKey(base64: value) else { throw ParseError(line: number, message: "invalid PresharedKey") }
                peer?.presharedKey = k.isZero ? nil : k
            case (.peer, "endpoint"):
                guard let e = Endpoint(value) else { throw invalid("Endpoint (want ip:port or [ipv6]:port)") }
                peer?.endpoint = e
            case (.peer, "allowedips"):
                for item in value.split(separator: ",") {
                    let text = item.trimmingCharacters(in: .whitespaces)
                    guard let ip = IPNetwork(text) else {
                        throw ParseError(line: number, message: "invalid AllowedIPs entry '\(text)'")
                    }
                    peer?.allowedIPs.append(ip.canonical)
                }
            case (.peer, "persistentkeepalive"):
                if value == "off" {
                    peer?.persistentKeepalive = 0
                } else {
                    guard let k = UInt16(value) else { throw invalid("PersistentKeepalive") }
                    peer?.persistentKeepalive = k
                }
            case (.none, _):
                throw ParseError(line: number, message: "'\(key)' outside a section")
            default:
                throw ParseError(line: number, message: "unknown key '\(line[..<eq].trimmingCharacters(in: .whitespaces))'")
            }
        }
        try finishPeer()
        if section == .peer && device.peers.isEmpty {
            throw ParseError(line: peerLine, message: "[Peer] without PublicKey")
        }
        return device
    }

    /// The `wg showconf` text of a device, private key included: callers write it 0600.
    public static func render(_ device: Device) -> String {
        var out = "[Interface]\n"
        if let key = device.privateKey { out += "PrivateKey = \(key.base64)\n" }
        if device.listenPort != 0 { out += "ListenPort = \(device.listenPort)\n" }
        if device.fwmark != 0 { out += "FwMark = 0x\(String(device.fwmark, radix: 16))\n" }
        for peer in device.peers {
            out += "\n[Peer]\nPublicKey = \(peer.publicKey.base64)\n"
            if let psk = peer.presharedKey { out += "PresharedKey = \(psk.base64)\n" }
            if !peer.allowedIPs.isEmpty {
                out += "AllowedIPs = \(peer.allowedIPs.map(\.description).joined(separator: ", "))\n"
            }
            if let endpoint = peer.endpoint { out += "Endpoint = \(endpoint)\n" }
            if peer.persistentKeepalive != 0 { out += "PersistentKeepalive = \(peer.persistentKeepalive)\n" }
        }
        return out
    }

    private static func parseFwmark(_ value: String) -> UInt32? {
        if value == "off" { return 0 }
        if value.lowercased().hasPrefix("0x") { return UInt32(value.dropFirst(2), radix: 16) }
        return UInt32(value)
    }
}
