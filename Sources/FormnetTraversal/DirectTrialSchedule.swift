import WireGuard

/// When a relayed pair tries a direct path again. Both sides must try at about the same moment
/// (a port-preserving NAT lets the peer's handshake in only after its own went out toward the
/// peer), and two relayed peers exchange nothing but WireGuard packets, so the moment comes from
/// the wall clock: slots of `period` seconds, shifted per pair by a hash of both keys, so that
/// the two hosts of a pair land on the same instant and different pairs spread over the period.
/// Clocks need to agree to well under the one second a candidate is given, as NTP keeps them.
public enum DirectTrialSchedule {
    public static let period = 60.0
    /// A pair relayed this close to a slot waits for the next one: it has just failed.
    public static let minimumRelayedTime = 15.0

    /// The same for (a, b) and (b, a): FNV-1a over the smaller key, then the larger.
    public static func offset(_ a: PublicKey, _ b: PublicKey) -> Double {
        let (first, second) = a.base64 < b.base64 ? (a, b) : (b, a)
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in first.bytes + second.bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return Double(hash % UInt64(period * 1000)) / 1000
    }

    /// The slot `now` falls in, for the pair.
    public static func slot(now: Double, _ a: PublicKey, _ b: PublicKey) -> Int {
        Int(((now - offset(a, b)) / period).rounded(.down))
    }

    /// Seconds until the pair's next slot starts.
    public static func untilNextSlot(now: Double, _ a: PublicKey, _ b: PublicKey) -> Double {
        Double(slot(now: now, a, b) + 1) * period + offset(a, b) - now
    }

    /// The longest gap between trials, in slots, for a pair that keeps failing.
    public static let maxSlotsBetweenTrials = 16

    /// Failed trials after which a pair still tries in every slot. A path that died for a while
    /// (a firewall, a NAT reboot) fails the trial that falls in the outage; backing off at once
    /// put the next trial up to two minutes after the path came back (a CI run on the WAN waited
    /// over 90 s for a healed pair).
    public static let failuresBeforeBackoff = 2

    /// Whether a pair that failed `failures` trials tries in `slot`: every slot for the first
    /// `failuresBeforeBackoff` failures, then every 2nd, 4th, … up to every 16th (16 minutes).
    public static func tries(slot: Int, afterFailures failures: Int) -> Bool {
        let doublings = max(0, min(failures - failuresBeforeBackoff, 8))
        let every = min(1 << doublings, maxSlotsBetweenTrials)
        return (slot % every + every) % every == 0
    }

    /// The first slot a pair relayed at `now` may try direct in.
    public static func firstTrialSlot(relayedAt now: Double, _ a: PublicKey, _ b: PublicKey) -> Int {
        slot(now: now, a, b) + (untilNextSlot(now: now, a, b) < minimumRelayedTime ? 2 : 1)
    }
}
