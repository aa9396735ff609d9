import WireGuard

/// A home relay that still works is left for a better one only once that relay has ranked best
/// for `confirmation` seconds in a row; a home that failed is replaced at once.
///
/// The relays are measured at different paces (the home, carrying data, every 0.5 s; the others
/// every second) and each RTT is the median of three pongs, so when the paths to several relays
/// slow down together, the home's figure moves first: for two or three seconds a relay that
/// slowed as much looks a third faster. On the WAN lab two relays slowed at once and a member's
/// home went to the slower of them, where the hysteresis then kept it (`RelaySelection`). Four
/// seconds outlast that window (two new samples at one a second, a lost pong, a 300 ms path).
struct HomeChangeDelay: Equatable {
    static let confirmation = 4.0

    /// The relay that ranks ahead of the home, and since when; nil when the home ranks best.
    private(set) var challenger: PublicKey?
    private var since: Double = 0

    /// The home to keep: `chosen` (`RelaySelection.choose`'s pick) when there is no `current`
    /// home, it is not healthy, or `chosen` has won for `confirmation`; `current` otherwise.
    mutating func home(current: PublicKey?, currentHealthy: Bool, chosen: PublicKey?, now: Double) -> PublicKey? {
        guard let current, currentHealthy, let chosen, chosen != current else {
            challenger = nil
            return chosen
        }
        if challenger != chosen {
            challenger = chosen
            since = now
        }
        guard now - since >= Self.confirmation else { return current }
        challenger = nil
        return chosen
    }
}
