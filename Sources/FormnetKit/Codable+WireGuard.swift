import WireGuard

/// Values that travel as their usual text form in the API's JSON and the TOML files: keys as
/// base64, addresses and networks as written, endpoints as IP:PORT or [IPv6]:PORT.
protocol TextCodable: Codable {
    init?(codableText: String)
    var codableText: String { get }
    /// What the text should look like, for the error message.
    static var textForm: String { get }
}

extension TextCodable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(codableText: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not \(Self.textForm): '\(text)'"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(codableText)
    }
}

extension PublicKey: TextCodable {
    init?(codableText: String) { self.init(base64: codableText) }
    var codableText: String { base64 }
    static var textForm: String { "a base64 WireGuard key" }
}

extension IPAddress: TextCodable {
    init?(codableText: String) { self.init(codableText) }
    var codableText: String { description }
    static var textForm: String { "an IP address" }
}

extension IPNetwork: TextCodable {
    /// A bare address is a host network elsewhere, but in files and the API the prefix is required.
    init?(codableText: String) {
        guard codableText.contains("/") else { return nil }
        self.init(codableText)
    }
    var codableText: String { description }
    static var textForm: String { "ADDRESS/PREFIX" }
}

extension Endpoint: TextCodable {
    init?(codableText: String) { self.init(codableText) }
    var codableText: String { description }
    static var textForm: String { "IP:PORT or [IPv6]:PORT" }
}
