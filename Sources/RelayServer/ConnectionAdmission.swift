import RelayWire

/// Which TCP connections a listener takes: at most `total` open, and at most `perSource` from one
/// source (`SourceNetwork`), so that one host cannot hold every slot and lock out the clients the
/// port is for.
public struct ConnectionAdmission: Sendable {
    public enum Refusal: Sendable, Equatable {
        case full, sourceShare
    }

    public let total: Int
    public let perSource: Int
    public private(set) var open = 0
    private var bySource: [SourceNetwork: Int] = [:]

    public init(total: Int, perSource: Int) {
        self.total = total
        self.perSource = perSource
    }

    /// Counts a new connection from `address` in, or says why not.
    public mutating func admit(_ address: RelayAddress) -> Refusal? {
        let source = SourceNetwork(address)
        guard open < total else { return .full }
        let held = bySource[source, default: 0]
        guard held < perSource else { return .sourceShare }
        bySource[source] = held + 1
        open += 1
        return nil
    }

    /// Counts a connection `admit` let in out again.
    public mutating func release(_ address: RelayAddress) {
        let source = SourceNetwork(address)
        guard let held = bySource[source] else { return }
        bySource[source] = held > 1 ? held - 1 : nil
        open -= 1
    }

    /// How many connections `address`'s source holds.
    public func held(by address: RelayAddress) -> Int { bySource[SourceNetwork(address), default: 0] }
}
