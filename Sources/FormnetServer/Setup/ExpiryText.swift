import Foundation

/// Durations as users write them for invitation expiry: a number and a unit, "30m", "12h",
/// "14d", "2w" (innernet's `--invite-expires`).
public enum ExpiryText {
    public static func parse(_ text: String) throws -> TimeInterval {
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        guard let unit = text.last, let scale = units[unit], let count = Int(text.dropLast()), count > 0,
              String(count) == text.dropLast() else {
            throw StoreError(.invalid, "invalid duration '\(text)': use a positive number and a unit s, m, h, d or w, e.g. 14d")
        }
        return TimeInterval(count) * scale
    }
}
