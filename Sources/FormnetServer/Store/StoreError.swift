/// Why the store refused a change. The kind decides the HTTP status an API caller gets; the
/// message is what a user reads, so it names the thing and the rule it broke.
public struct StoreError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The input breaks a rule whatever else is stored (an IP outside its CIDR, a bad name).
        case invalid
        /// The input clashes with what is stored (a taken name, IP or key; a CIDR still in use).
        case conflict
        case notFound
    }

    public let kind: Kind
    public let description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}
