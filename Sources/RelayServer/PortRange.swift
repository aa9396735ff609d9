/// `LOW-HIGH` port ranges on the command line (`start-relay --channel-ports`).
public enum PortRange {
    /// Two ports from 1 to 65535, LOW not above HIGH; nil for anything else.
    public static func parse(_ text: String) -> ClosedRange<UInt16>? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let low = UInt16(parts[0]), let high = UInt16(parts[1]), low > 0, low <= high else { return nil }
        return low...high
    }
}
