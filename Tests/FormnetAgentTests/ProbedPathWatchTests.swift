import Testing
import WireGuard
@testable import FormnetAgent

@Suite struct ProbedPathWatchTests {
    let endpoint = Endpoint("198.51.100.3:40000")!

    @Test func dataIntoSilenceIsCheckedThenDeadAfterThreeLostProbes() {
        var watch = ProbedPathWatch(endpoint: endpoint, rx: 1000, tx: 1000, now: 0)
        // Data goes out (a 1 KB packet), nothing comes back: not suspect before a second.
        #expect(watch.observe(endpoint: endpoint, rx: 1000, tx: 2000, keepalive: 25, now: 0.9) == .carrying)
        #expect(!watch.checking)
        #expect(watch.observe(endpoint: endpoint, rx: 1000, tx: 2000, keepalive: 25, now: 1.0) == .checking(since: 1.0))
        #expect(watch.checking)
        watch.probe(lost: true)
        watch.probe(lost: true)
        #expect(watch.observe(endpoint: endpoint, rx: 1000, tx: 3000, keepalive: 25, now: 2) == .checking(since: 1.0))
        watch.probe(lost: true)
        #expect(watch.observe(endpoint: endpoint, rx: 1000, tx: 3000, keepalive: 25, now: 2.5) == .dead)
        #expect(watch.reason(now: 2.5) == "nothing received for 2 s while sending, 3 probes unanswered")
    }

    @Test func anAnsweredProbeEndsTheCheck() {
        var watch = ProbedPathWatch(endpoint: endpoint, rx: 1000, tx: 1000, now: 0)
        #expect(watch.observe(endpoint: endpoint, rx: 1000, tx: 2000, keepalive: 25, now: 1.5) == .checking(since: 1.5))
        watch.probe(lost: true)
        watch.probe(lost: true)
        // One-way traffic: the probe is answered, the losses before it do not add up.
        watch.probe(lost: false)
        watch.probe(lost: true)
        #expect(watch.lost == 1)
        #expect(watch.observe(endpoint: endpoint, rx: 1000, tx: 2500, keepalive: 25, now: 2) == .checking(since: 1.5))
        watch.probe(lost: false)
        // The answer arrives (rx grows): carrying, the count starts over.
        #expect(watch.observe(endpoint: endpoint, rx: 1100, tx: 2500, keepalive: 25, now: 2.1) == .carrying)
        #expect(watch.lost == 0)
        #expect(!watch.checking)
    }

    /// A path cut one way: the peer's own probes keep arriving (every 0.3 s once it checks the
    /// path too) while ours go unanswered. What arrives does not end the check; the probes do.
    @Test func aPathCutOneWayIsDeadThoughPacketsArrive() {
        var watch = ProbedPathWatch(endpoint: endpoint, rx: 1000, tx: 1000, now: 0)
        #expect(watch.observe(endpoint: endpoint, rx: 1000, tx: 2000, keepalive: 25, now: 1.0) == .checking(since: 1.0))
        #expect(watch.observe(endpoint: endpoint, rx: 1100, tx: 2100, keepalive: 25, now: 1.3) == .checking(since: 1.0))
        watch.probe(lost: true)
        #expect(watch.observe(endpoint: endpoint, rx: 1200, tx: 2200, keepalive: 25, now: 3.5) == .checking(since: 1.0))
        watch.probe(lost: true)
        #expect(watch.observe(endpoint: endpoint, rx: 1300, tx: 2300, keepalive: 25, now: 3.8) == .checking(since: 1.0))
        watch.probe(lost: true)
        #expect(watch.observe(endpoint: endpoint, rx: 1400, tx: 2400, keepalive: 25, now: 4.1) == .dead)
        #expect(watch.reason(now: 4.1) == "3 probes unanswered while the peer's packets still arrive: cut one way")
    }

    /// A peer that does not answer probes (it drops ICMP) gives no outcome: once `outcomeWait`
    /// has passed, what arrives from it ends the check.
    @Test func withoutProbeOutcomesWhatArrivesEndsTheCheck() {
        var watch = ProbedPathWatch(endpoint: endpoint, rx: 1000, tx: 1000, now: 0)
        #expect(watch.observe(endpoint: endpoint, rx: 1000, tx: 2000, keepalive: 25, now: 1.0) == .checking(since: 1.0))
        #expect(watch.observe(endpoint: endpoint, rx: 1100, tx: 2000, keepalive: 25, now: 1.0 + ProbedPathWatch.outcomeWait - 0.1)
                == .checking(since: 1.0))
        #expect(watch.observe(endpoint: endpoint, rx: 1200, tx: 2000, keepalive: 25, now: 1.0 + ProbedPathWatch.outcomeWait) == .carrying)
        #expect(!watch.checking)
    }

    /// On an idle pair only one end sends keepalives and hears nothing back (`PathWatch`): that
    /// is no reason to probe.
    @Test func keepalivesAloneAreNotSuspect() {
        var watch = ProbedPathWatch(endpoint: endpoint, rx: 1000, tx: 1000, now: 0)
        #expect(watch.observe(endpoint: endpoint, rx: 1000, tx: 1032, keepalive: 25, now: 5) == .carrying)
        #expect(watch.observe(endpoint: endpoint, rx: 1000, tx: 1064, keepalive: 25, now: 26) == .carrying)
        #expect(!watch.checking)
        watch.probe(lost: true)
        #expect(watch.lost == 0)
    }

    /// A peer that never answered a probe reports no losses: silence while sending, for
    /// `PathWatch.silence`, is dead all the same.
    @Test func withoutProbesSilenceDecides() {
        var watch = ProbedPathWatch(endpoint: endpoint, rx: 1000, tx: 1000, now: 0)
        #expect(watch.observe(endpoint: endpoint, rx: 1000, tx: 5000, keepalive: 25, now: 1) == .checking(since: 1))
        #expect(watch.observe(endpoint: endpoint, rx: 1000, tx: 5000, keepalive: 25, now: PathWatch.silence - 0.1) == .checking(since: 1))
        #expect(watch.observe(endpoint: endpoint, rx: 1000, tx: 5000, keepalive: 25, now: PathWatch.silence) == .dead)
    }

    @Test func aNewEndpointStartsOver() {
        var watch = ProbedPathWatch(endpoint: endpoint, rx: 1000, tx: 1000, now: 0)
        #expect(watch.observe(endpoint: endpoint, rx: 1000, tx: 2000, keepalive: 0, now: 2) == .checking(since: 2))
        let roamed = Endpoint("198.51.100.3:40001")!
        #expect(watch.observe(endpoint: roamed, rx: 1000, tx: 2000, keepalive: 0, now: 3) == .carrying)
        #expect(watch.endpoint == roamed)
    }
}
