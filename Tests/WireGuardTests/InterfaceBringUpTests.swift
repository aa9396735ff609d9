import Foundation
import Testing
import WireGuard

@Suite struct InterfaceBringUpTests {
    struct Refused: Error, Equatable {}

    /// The calls a bring-up makes, in order, across the backend and the links; the calls in
    /// `failing` throw.
    final class Journal: @unchecked Sendable {
        private let lock = NSLock()
        private var entries: [String] = []
        let failing: Set<String>

        init(failing: Set<String>) { self.failing = failing }

        func record(_ call: String) throws {
            lock.withLock { entries.append(call) }
            if failing.contains(call) { throw Refused() }
        }

        var calls: [String] { lock.withLock { entries } }
    }

    struct RecordingBackend: WireGuardBackend {
        let journal: Journal
        /// Whether the interface is there before the bring-up.
        var exists = false
        let kind = BackendKind.userspace
        func createInterface(named name: String) throws { try journal.record("create \(name)") }
        func deleteInterface(named name: String) throws { try journal.record("delete \(name)") }
        func interfaces() throws -> [String] { [] }
        func device(named name: String) throws -> Device {
            guard exists else { throw WireGuardError.interfaceNotFound(name) }
            return Device(name: name)
        }
        func apply(_ update: DeviceUpdate, to name: String) throws {
            try journal.record("apply \(update.peers.count) peer(s) replacing=\(update.replacePeers) to \(name)")
        }
    }

    struct RecordingLinks: LinkControl {
        let journal: Journal
        func createWireGuardLink(named name: String) throws { try journal.record("link \(name)") }
        func deleteLink(named name: String) throws { try journal.record("unlink \(name)") }
        func wireGuardLinks() throws -> [String] { [] }
        func linkIndex(named name: String) throws -> Int32? { nil }
        func addAddress(_ address: IPNetwork, to name: String) throws { try journal.record("address \(address)") }
        func setMTU(_ mtu: UInt32, on name: String) throws { try journal.record("mtu \(mtu)") }
        func setUp(_ up: Bool, name: String) throws { try journal.record("up \(up)") }
        func addRoute(_ network: IPNetwork, via name: String) throws { try journal.record("route \(network)") }
    }

    let bringUp = InterfaceBringUp(
        privateKey: PrivateKey.generate(), listenPort: 51820,
        peers: [DesiredPeer(publicKey: PrivateKey.generate().publicKey, allowedIPs: [IPNetwork("10.66.0.1/32")!],
                            endpoint: Endpoint("192.0.2.7:51820"), persistentKeepalive: 25)],
        addresses: [IPNetwork("10.66.1.2/16")!, IPNetwork("fd66::2/64")!], mtu: 1360,
        routes: [IPNetwork("10.66.0.0/16")!])

    static let steps = ["create wg0", "apply 1 peer(s) replacing=true to wg0", "address 10.66.1.2/16",
                        "address fd66::2/64", "mtu 1360", "up true", "route 10.66.0.0/16"]

    func run(failing: Set<String>) -> (Journal, Error?) {
        let journal = Journal(failing: failing)
        do {
            try bringUp.run(named: "wg0", backend: RecordingBackend(journal: journal), links: RecordingLinks(journal: journal))
            return (journal, nil)
        } catch {
            return (journal, error)
        }
    }

    @Test func stepsRunInWgQuicksOrder() {
        let (journal, error) = run(failing: [])
        #expect(error == nil)
        #expect(journal.calls == Self.steps)
    }

    @Test(arguments: Array(InterfaceBringUpTests.steps.dropFirst()))
    func aFailedStepRemovesTheInterfaceAndIsRethrown(step: String) throws {
        let (journal, error) = run(failing: [step])
        #expect(error as? Refused == Refused())
        let done = try #require(Self.steps.firstIndex(of: step))
        #expect(journal.calls == Array(Self.steps[...done]) + ["delete wg0"])
    }

    @Test func aFailedCreationLeavesNothingToRemove() {
        let (journal, error) = run(failing: ["create wg0"])
        #expect(error as? Refused == Refused())
        #expect(journal.calls == ["create wg0"])
    }

    /// An interface left by a server that was killed is configured again, not created, and a
    /// failure leaves it there; a missing one is created as by `run`.
    @Test func anExistingInterfaceIsTakenOver() throws {
        let journal = Journal(failing: [])
        let tookOver = try bringUp.runOrTakeOver(named: "wg0", backend: RecordingBackend(journal: journal, exists: true),
                                                 links: RecordingLinks(journal: journal))
        #expect(tookOver)
        #expect(journal.calls == Array(Self.steps.dropFirst()))
        let failing = Journal(failing: ["mtu 1360"])
        #expect(throws: Refused.self) {
            _ = try bringUp.runOrTakeOver(named: "wg0", backend: RecordingBackend(journal: failing, exists: true),
                                          links: RecordingLinks(journal: failing))
        }
        #expect(!failing.calls.contains("delete wg0"))
        let fresh = Journal(failing: [])
        #expect(try !bringUp.runOrTakeOver(named: "wg0", backend: RecordingBackend(journal: fresh), links: RecordingLinks(journal: fresh)))
        #expect(fresh.calls == Self.steps)
    }

    /// The removal's own failure does not hide why the bring-up failed.
    @Test func theStepsErrorIsRethrownWhenRemovalFailsToo() {
        let (journal, error) = run(failing: ["mtu 1360", "delete wg0"])
        #expect(error as? Refused == Refused())
        #expect(journal.calls.last == "delete wg0")
    }
}
