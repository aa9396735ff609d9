import FormnetKit
import Foundation
import Testing
import WireGuard
@testable import FormnetServer

/// The tree used below:
///
///     testnet 10.66.0.0/16
///     ├── formnet-server 10.66.0.1/32   (server)
///     ├── office 10.66.1.0/24           (alice)
///     │   ├── eng 10.66.1.0/26          (erin)
///     │   │   └── infra 10.66.1.0/28    (ivan)
///     │   └── sales 10.66.1.64/26       (sam)
///     ├── lab 10.66.2.0/24              (larry)   associated with office
///     │   └── rack 10.66.2.0/28         (rita)
///     ├── guests 10.66.3.0/24           (gus)     associated with eng
///     └── dark 10.66.4.0/24             (dan)
@Suite struct VisibilityTests {
    let net: TestNetwork
    let office: Cidr, eng: Cidr, infra: Cidr, sales: Cidr, lab: Cidr, rack: Cidr, guests: Cidr, dark: Cidr

    init() throws {
        net = try TestNetwork()
        office = try net.cidr("office", "10.66.1.0/24", parent: net.root)
        eng = try net.cidr("eng", "10.66.1.0/26", parent: office)
        infra = try net.cidr("infra", "10.66.1.0/28", parent: eng)
        sales = try net.cidr("sales", "10.66.1.64/26", parent: office)
        lab = try net.cidr("lab", "10.66.2.0/24", parent: net.root)
        rack = try net.cidr("rack", "10.66.2.0/28", parent: lab)
        guests = try net.cidr("guests", "10.66.3.0/24", parent: net.root)
        dark = try net.cidr("dark", "10.66.4.0/24", parent: net.root)
        try net.store.addAssociation(API.AssociationContents(cidrId1: office.id, cidrId2: lab.id))
        try net.store.addAssociation(API.AssociationContents(cidrId1: guests.id, cidrId2: eng.id))
        try net.peer("alice", "10.66.1.200", in: office)
        try net.peer("erin", "10.66.1.20", in: eng)
        try net.peer("ivan", "10.66.1.2", in: infra)
        try net.peer("sam", "10.66.1.70", in: sales)
        try net.peer("larry", "10.66.2.100", in: lab)
        try net.peer("rita", "10.66.2.2", in: rack)
        try net.peer("gus", "10.66.3.2", in: guests)
        try net.peer("dan", "10.66.4.2", in: dark)
    }

    func seen(by name: String) throws -> [String] {
        let caller = try #require(try net.store.peer(named: name))
        let snapshot = try net.store.snapshot()
        return Visibility.state(for: caller, in: snapshot, infrastructure: net.infrastructure.id, now: Date()).peers.map(\.name).sorted()
    }

    @Test func ownCidrItsDescendantsAndAssociatedTrees() throws {
        // office sees itself and below, lab and below (association), and the server.
        #expect(try seen(by: "alice") == ["alice", "erin", "formnet-server", "ivan", "larry", "rita", "sam"])
    }

    @Test func associationOfAnAncestorCounts() throws {
        // ivan is in infra under eng under office: office's association with lab reaches it,
        // and so does eng's association with guests. It does not see its ancestors' own peers.
        #expect(try seen(by: "ivan") == ["formnet-server", "gus", "ivan", "larry", "rita"])
        #expect(try seen(by: "erin") == ["erin", "formnet-server", "gus", "ivan", "larry", "rita"])
    }

    @Test func associationsWorkBothWays() throws {
        #expect(try seen(by: "larry") == ["alice", "erin", "formnet-server", "ivan", "larry", "rita", "sam"])
        // rita's ancestor lab is associated with office.
        #expect(try seen(by: "rita") == ["alice", "erin", "formnet-server", "ivan", "rita", "sam"])
        #expect(try seen(by: "gus") == ["erin", "formnet-server", "gus", "ivan"])
    }

    @Test func ancestorsOwnPeersStayHidden() throws {
        #expect(try seen(by: "dan") == ["dan", "formnet-server"])
        #expect(try seen(by: "sam") == ["formnet-server", "larry", "rita", "sam"])
    }

    @Test func disabledAndUnredeemedPeersAreHidden() throws {
        try net.peer("disabled", "10.66.4.3", in: dark, disabled: true)
        try net.peer("invited", "10.66.4.4", in: dark, redeemed: false, expires: Date().addingTimeInterval(600))
        #expect(try seen(by: "dan") == ["dan", "formnet-server"])
    }

    @Test func cidrsAreTheVisibleOnesWithTheirAncestors() throws {
        let caller = try #require(try net.store.peer(named: "ivan"))
        let state = Visibility.state(for: caller, in: try net.store.snapshot(), infrastructure: net.infrastructure.id, now: Date())
        #expect(Set(state.cidrs.map(\.name)) == ["testnet", "formnet-server", "office", "eng", "infra", "lab", "rack", "guests"])
    }

    @Test func pureCidrSetsWithCycleSafety() {
        let cidrs = [Cidr(id: 1, name: "r", cidr: IPNetwork("10.0.0.0/8")!, parent: nil),
                     Cidr(id: 2, name: "a", cidr: IPNetwork("10.1.0.0/16")!, parent: 1),
                     Cidr(id: 3, name: "b", cidr: IPNetwork("10.1.1.0/24")!, parent: 2)]
        #expect(Visibility.withDescendants([2], cidrs: cidrs) == [2, 3])
        #expect(Visibility.visibleCidrIDs(from: 3, infrastructure: nil, cidrs: cidrs,
                                          associations: [Association(id: 1, cidrId1: 2, cidrId2: 3)]) == [2, 3])
    }
}
