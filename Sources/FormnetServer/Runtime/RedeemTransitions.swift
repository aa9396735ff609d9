import FormnetKit
import Foundation
import WireGuard

/// Keys just redeemed, whose old invitation key must stay on the device for
/// `API.redeemTransitionWait`: the redeem answer travels back under the old key, and the
/// member switches to its new key only after the same wait.
public final class RedeemTransitions: @unchecked Sendable {
    // Guarded by `lock`; the API's handlers and the refresh loop touch it from different tasks.
    private let lock = NSLock()
    private var pending: [PublicKey: (oldKey: PublicKey, until: Date)] = [:]
    private let wait: TimeInterval

    public init(wait: Duration = API.redeemTransitionWait) {
        let (seconds, attoseconds) = wait.components
        self.wait = TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }

    public func begin(_ change: RedeemedKey, now: Date) {
        lock.withLock { pending[change.newKey] = (change.oldKey, now.addingTimeInterval(wait)) }
    }

    /// The key the device should carry for a peer whose stored key is `key`.
    public func deviceKey(for key: PublicKey, now: Date) -> PublicKey {
        lock.withLock {
            guard let transition = pending[key] else { return key }
            if transition.until <= now {
                pending[key] = nil
                return key
            }
            return transition.oldKey
        }
    }
}
