import Testing
import WireGuard
@testable import FormnetAgent

@Suite struct HomeChangeDelayTests {
    let home = PrivateKey.generate().publicKey
    let better = PrivateKey.generate().publicKey
    let other = PrivateKey.generate().publicKey

    @Test func aWorkingHomeIsLeftOnlyOnceTheSameRelayHasWonForTheConfirmation() {
        var delay = HomeChangeDelay()
        #expect(delay.home(current: home, currentHealthy: true, chosen: better, now: 10) == home)
        #expect(delay.home(current: home, currentHealthy: true, chosen: better, now: 10 + HomeChangeDelay.confirmation - 0.1) == home)
        #expect(delay.home(current: home, currentHealthy: true, chosen: better, now: 10 + HomeChangeDelay.confirmation) == better)
        #expect(delay.challenger == nil)
    }

    /// Two relays slowed together: the one measured less often looks faster for a moment, then
    /// the home ranks best again. Nothing changes, and a later challenge starts over.
    @Test func aMomentaryWinnerDoesNotTakeTheHome() {
        var delay = HomeChangeDelay()
        #expect(delay.home(current: home, currentHealthy: true, chosen: better, now: 10) == home)
        #expect(delay.home(current: home, currentHealthy: true, chosen: home, now: 12) == home)
        #expect(delay.challenger == nil)
        #expect(delay.home(current: home, currentHealthy: true, chosen: better, now: 13) == home)
        #expect(delay.home(current: home, currentHealthy: true, chosen: better, now: 16) == home)
        // Another relay taking the lead restarts the count.
        #expect(delay.home(current: home, currentHealthy: true, chosen: other, now: 16.5) == home)
        #expect(delay.home(current: home, currentHealthy: true, chosen: other, now: 16.5 + HomeChangeDelay.confirmation) == other)
    }

    @Test func aFailedOrMissingHomeIsReplacedAtOnce() {
        var delay = HomeChangeDelay()
        #expect(delay.home(current: nil, currentHealthy: false, chosen: better, now: 0) == better)
        #expect(delay.home(current: home, currentHealthy: true, chosen: better, now: 1) == home)
        #expect(delay.home(current: home, currentHealthy: false, chosen: better, now: 1.5) == better)
        #expect(delay.challenger == nil)
        #expect(delay.home(current: home, currentHealthy: true, chosen: nil, now: 2) == nil)
    }
}
