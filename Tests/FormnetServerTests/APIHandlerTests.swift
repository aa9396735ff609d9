import FormnetKit
import Foundation
import Synchronization
import Testing
import WireGuard
@testable import FormnetServer

@Suite struct APIAuthenticationTests {
    let net: TestNetwork
    let office: Cidr

    init() throws {
        net = try TestNetwork()
        office = try net.cidr("office", "10.66.1.0/24", parent: net.root)
        try net.peer("alice", "10.66.1.2", in: office)
        try net.peer("admin", "10.66.1.3", in: office, admin: true)
        try net.peer("off", "10.66.1.4", in: office, disabled: true)
        try net.peer("invited", "10.66.1.5", in: office, redeemed: false, expires: Date().addingTimeInterval(600))
        try net.peer("late", "10.66.1.6", in: office, redeemed: false, expires: Date().addingTimeInterval(-1))
    }

    @Test func missingOrWrongServerKeyIs401() {
        let api = net.service()
        let missing = api.state(net.request(from: "10.66.1.2", key: .some(nil)))
        #expect(missing.status == 401)
        #expect(missing.errorReason == "missing X-Formnet-Server-Key header")
        let wrong = api.state(net.request(from: "10.66.1.2", key: PrivateKey.generate().publicKey.base64))
        #expect(wrong.status == 401)
        #expect(wrong.errorReason == "X-Formnet-Server-Key does not match this server's public key")
    }

    @Test func unknownOrMissingCallerIs401() {
        let api = net.service()
        #expect(api.state(net.request(from: "10.66.1.99")).errorReason == "no peer of this network has the tunnel IP 10.66.1.99")
        #expect(api.state(net.request(from: "10.66.1.99")).status == 401)
        #expect(api.state(net.request(from: nil)).status == 401)
        #expect(api.state(net.request(from: "10.66.0.1")).status == 401)
    }

    @Test func disabledPeerIs401Everywhere() {
        let api = net.service()
        for response in [api.state(net.request(from: "10.66.1.4")), api.capabilities(net.request(from: "10.66.1.4"))] {
            #expect(response.status == 401)
            #expect(response.errorReason == "peer 'off' is disabled")
        }
    }

    @Test func unredeemedPeerMayOnlyRedeemAndAskCapabilities() throws {
        let api = net.service()
        let state = api.state(net.request(from: "10.66.1.5"))
        #expect(state.status == 403)
        #expect(state.errorReason == "peer 'invited' has not redeemed its invitation yet")
        #expect(api.capabilities(net.request(from: "10.66.1.5")).status == 200)
        #expect(api.listPeers(net.request(from: "10.66.1.5")).status == 403)
    }

    @Test func nonAdminOnAdminRoutesIs403() {
        let api = net.service()
        let routes: [(APIRequest) -> APIResponse] = [
            api.listPeers, api.addPeer, api.updatePeer, api.listCidrs, api.addCidr, api.updateCidr, api.deleteCidr,
            api.listAssociations, api.addAssociation, api.deleteAssociation,
        ]
        for route in routes {
            let response = route(net.request(from: "10.66.1.2", id: "1"))
            #expect(response.status == 403)
            #expect(response.errorReason == "peer 'alice' is not an admin")
        }
    }

    @Test func everyRouteIsInTheTableOnce() {
        let keys = APIService.routes.map { "\($0.method) \($0.path)" }
        #expect(Set(keys).count == keys.count)
        #expect(keys.count == 17)
    }
}

@Suite struct APIUserRouteTests {
    let net: TestNetwork
    let office: Cidr

    init() throws {
        net = try TestNetwork()
        office = try net.cidr("office", "10.66.1.0/24", parent: net.root)
        try net.peer("alice", "10.66.1.2", in: office)
        try net.peer("bob", "10.66.1.3", in: office)
        try net.peer("invited", "10.66.1.5", in: office, redeemed: false, expires: Date().addingTimeInterval(600))
        try net.peer("late", "10.66.1.6", in: office, redeemed: false, expires: Date().addingTimeInterval(-1))
    }

    @Test func stateListsVisiblePeers() throws {
        let response = net.service().state(net.request(from: "10.66.1.2"))
        #expect(response.status == 200)
        let state = try decoded(API.State.self, response)
        #expect(state.peers.map(\.name).sorted() == ["alice", "bob", "formnet-server"])
        #expect(Set(state.cidrs.map(\.name)) == ["testnet", "formnet-server", "office"])
    }

    @Test func redeemOnceThenConflict() throws {
        let changes = Mutex<[RedeemedKey]>([])
        let api = net.service { change in changes.withLock { $0.append(change) } }
        let invited = try #require(try net.store.peer(named: "invited"))
        let newKey = PrivateKey.generate().publicKey
        let first = api.redeem(net.request(from: "10.66.1.5", body: json(API.RedeemRequest(publicKey: newKey))))
        #expect(first.status == 204)
        #expect(changes.withLock { $0 } == [RedeemedKey(oldKey: invited.publicKey, newKey: newKey)])
        #expect(try net.store.peer(named: "invited")?.publicKey == newKey)
        let again = api.redeem(net.request(from: "10.66.1.5", body: json(API.RedeemRequest(publicKey: PrivateKey.generate().publicKey))))
        #expect(again.status == 409)
        #expect(again.errorReason == "the invitation of peer 'invited' was already redeemed")
        #expect(api.state(net.request(from: "10.66.1.5")).status == 200)
    }

    @Test func expiredInvitationCannotRedeem() {
        let response = net.service().redeem(net.request(from: "10.66.1.6", body: json(API.RedeemRequest(publicKey: PrivateKey.generate().publicKey))))
        #expect(response.status == 401)
        #expect(response.errorReason?.hasPrefix("the invitation of peer 'late' expired at") == true)
    }

    @Test func redeemWithBadBodyOrTakenKey() throws {
        let api = net.service()
        let garbage = api.redeem(net.request(from: "10.66.1.5", body: Data("{\"publicKey\": \"nope\"}".utf8)))
        #expect(garbage.status == 400)
        #expect(garbage.errorReason?.hasPrefix("invalid RedeemRequest body") == true)
        let bobKey = try #require(try net.store.peer(named: "bob")).publicKey
        #expect(api.redeem(net.request(from: "10.66.1.5", body: json(API.RedeemRequest(publicKey: bobKey)))).status == 409)
    }

    @Test func endpointOverrideSetAndClear() throws {
        let api = net.service()
        let endpoint = Endpoint("[2001:db8::1]:51820")
        #expect(api.setEndpoint(net.request(from: "10.66.1.2", body: json(API.EndpointOverride(endpoint: endpoint)))).status == 204)
        #expect(try net.store.peer(named: "alice")?.endpoint == endpoint)
        #expect(api.setEndpoint(net.request(from: "10.66.1.2", body: json(API.EndpointOverride(endpoint: nil)))).status == 204)
        #expect(try net.store.peer(named: "alice")?.endpoint == nil)
        #expect(api.setEndpoint(net.request(from: "10.66.1.2", body: Data("[]".utf8))).status == 400)
    }

    @Test func candidatesBounded() throws {
        let api = net.service()
        let some = (1...API.maxCandidates).map { Endpoint(address: .v4(0xC0A8_0000 + UInt32($0)), port: 51820) }
        #expect(api.setCandidates(net.request(from: "10.66.1.2", body: json(API.Candidates(candidates: some)))).status == 204)
        #expect(try net.store.peer(named: "alice")?.candidates == some)
        let tooMany = some + [Endpoint("192.0.2.1:1")!]
        let refused = api.setCandidates(net.request(from: "10.66.1.2", body: json(API.Candidates(candidates: tooMany))))
        #expect(refused.status == 400)
        #expect(refused.errorReason == "11 candidates is more than the limit of 10")
        #expect(try net.store.peer(named: "alice")?.candidates == some)
    }

    @Test func natTypeIsStoredAndShownToPeers() throws {
        let api = net.service()
        #expect(try net.store.peer(named: "alice")?.natType == nil)
        let report = API.Candidates(candidates: [], natType: .symmetric)
        #expect(api.setCandidates(net.request(from: "10.66.1.2", body: json(report))).status == 204)
        #expect(try net.store.peer(named: "alice")?.natType == .symmetric)
        // A report without a measurement keeps the type known so far.
        #expect(api.setCandidates(net.request(from: "10.66.1.2", body: json(API.Candidates(candidates: [])))).status == 204)
        #expect(try net.store.peer(named: "alice")?.natType == .symmetric)
        let unknownType = Data(#"{"candidates":[],"natType":"cone-ish"}"#.utf8)
        #expect(api.setCandidates(net.request(from: "10.66.1.2", body: unknownType)).status == 400)
    }

    @Test func capabilities() throws {
        let response = net.service().capabilities(net.request(from: "10.66.1.2"))
        #expect(try decoded(API.Capabilities.self, response) == API.Capabilities(version: "v1", features: APIService.features))
        let stun = [Endpoint("203.0.113.7:3478")!, Endpoint("203.0.113.7:3479")!]
        let withStun = APIService(store: net.store, serverKey: net.serverKey, serverAddress: IPAddress("10.66.0.1")!, stunObservers: stun)
        #expect(try decoded(API.Capabilities.self, withStun.capabilities(net.request(from: "10.66.1.2"))).stun == stun)
    }
}

@Suite struct APIAdminRouteTests {
    let net: TestNetwork
    let office: Cidr
    let admin = "10.66.1.3"

    init() throws {
        net = try TestNetwork()
        office = try net.cidr("office", "10.66.1.0/24", parent: net.root)
        try net.peer("alice", "10.66.1.2", in: office)
        try net.peer("admin", admin, in: office, admin: true)
    }

    @Test func peersCrud() throws {
        let api = net.service()
        #expect(try decoded([NetworkPeer].self, api.listPeers(net.request(from: admin))).count == 3)
        let contents = API.PeerContents(name: "carol", ip: IPAddress("10.66.1.10")!, cidrId: office.id,
                                        publicKey: PrivateKey.generate().publicKey, inviteExpires: Date(timeIntervalSince1970: 2_000_000_000))
        let created = api.addPeer(net.request(from: admin, body: json(contents)))
        #expect(created.status == 201)
        let carol = try decoded(NetworkPeer.self, created)
        #expect(carol.name == "carol" && !carol.isRedeemed)
        let duplicate = api.addPeer(net.request(from: admin, body: json(contents)))
        #expect(duplicate.status == 409)
        #expect(duplicate.errorReason == "a peer named 'carol' already exists")
        var outside = contents
        outside.name = "dave"
        outside.ip = IPAddress("10.66.2.10")!
        #expect(api.addPeer(net.request(from: admin, body: json(outside))).status == 400)

        var change = carol.contents
        change.name = "caroline"
        change.isDisabled = true
        let updated = api.updatePeer(net.request(from: admin, body: json(change), id: String(carol.id)))
        #expect(updated.status == 200)
        #expect(try decoded(NetworkPeer.self, updated).isDisabled)
        #expect(api.updatePeer(net.request(from: admin, body: json(change), id: "999")).status == 404)
        #expect(api.updatePeer(net.request(from: admin, body: json(change), id: "x")).errorReason == "'x' is not a numeric id")
        change.ip = IPAddress("10.66.1.11")!
        #expect(api.updatePeer(net.request(from: admin, body: json(change), id: String(carol.id))).status == 400)

        let server = try #require(try net.store.peer(ip: net.serverIP))
        var disableServer = server.contents
        disableServer.isDisabled = true
        let refused = api.updatePeer(net.request(from: admin, body: json(disableServer), id: String(server.id)))
        #expect(refused.errorReason == "the server's own peer cannot be disabled")
    }

    @Test func cidrsCrud() throws {
        let api = net.service()
        #expect(try decoded([Cidr].self, api.listCidrs(net.request(from: admin))).count == 3)
        let lab = api.addCidr(net.request(from: admin, body: json(API.CidrContents(name: "lab", cidr: IPNetwork("10.66.2.0/24")!, parent: net.root.id))))
        #expect(lab.status == 201)
        let labCidr = try decoded(Cidr.self, lab)
        #expect(api.addCidr(net.request(from: admin, body: json(API.CidrContents(name: "lab2", cidr: IPNetwork("10.66.2.0/25")!, parent: net.root.id)))).status == 409)
        #expect(api.addCidr(net.request(from: admin, body: json(API.CidrContents(name: "far", cidr: IPNetwork("10.99.0.0/24")!, parent: net.root.id)))).status == 400)
        let renamed = api.updateCidr(net.request(from: admin, body: json(API.CidrContents(name: "labs", cidr: labCidr.cidr, parent: labCidr.parent)), id: String(labCidr.id)))
        #expect(try decoded(Cidr.self, renamed).name == "labs")
        #expect(api.deleteCidr(net.request(from: admin, id: String(office.id))).status == 409)
        #expect(api.deleteCidr(net.request(from: admin, id: String(labCidr.id))).status == 204)
        #expect(api.deleteCidr(net.request(from: admin, id: String(labCidr.id))).status == 404)
    }

    @Test func associationsCrud() throws {
        let api = net.service()
        let lab = try net.cidr("lab", "10.66.2.0/24", parent: net.root)
        let created = api.addAssociation(net.request(from: admin, body: json(API.AssociationContents(cidrId1: office.id, cidrId2: lab.id))))
        #expect(created.status == 201)
        let association = try decoded(Association.self, created)
        #expect(try decoded([Association].self, api.listAssociations(net.request(from: admin))) == [association])
        #expect(api.addAssociation(net.request(from: admin, body: json(API.AssociationContents(cidrId1: lab.id, cidrId2: office.id)))).status == 409)
        #expect(api.addAssociation(net.request(from: admin, body: json(API.AssociationContents(cidrId1: lab.id, cidrId2: 999)))).status == 400)
        #expect(api.deleteAssociation(net.request(from: admin, id: String(association.id))).status == 204)
        #expect(api.deleteAssociation(net.request(from: admin, id: String(association.id))).status == 404)
    }
}
