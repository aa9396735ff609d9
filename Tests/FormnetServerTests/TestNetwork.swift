import FormnetKit
import Foundation
import WireGuard
@testable import FormnetServer

/// A network in an in-memory store: root 10.66.0.0/16 with the server at 10.66.0.1 in its
/// infrastructure CIDR, like `formnet-server new` makes it.
struct TestNetwork {
    let store: Store
    let serverKey = PrivateKey.generate().publicKey
    let serverIP = IPAddress("10.66.0.1")!
    let root: Cidr
    let infrastructure: Cidr

    init(root range: String = "10.66.0.0/16", serverIP: String = "10.66.0.1") throws {
        store = try Store()
        try store.createNetwork(name: "testnet", root: IPNetwork(range)!, serverIP: IPAddress(serverIP)!,
                                serverKey: serverKey, externalEndpoint: Endpoint("203.0.113.7:51820")!)
        let cidrs = try store.cidrs()
        root = cidrs[0]
        infrastructure = cidrs[1]
    }

    @discardableResult
    func cidr(_ name: String, _ range: String, parent: Cidr) throws -> Cidr {
        try store.addCidr(API.CidrContents(name: name, cidr: IPNetwork(range)!, parent: parent.id))
    }

    @discardableResult
    func peer(_ name: String, _ ip: String, in cidr: Cidr, admin: Bool = false, disabled: Bool = false,
              redeemed: Bool = true, expires: Date? = nil, key: PublicKey = PrivateKey.generate().publicKey) throws -> NetworkPeer {
        try store.addPeer(API.PeerContents(name: name, ip: IPAddress(ip)!, cidrId: cidr.id, publicKey: key,
                                           isAdmin: admin, isDisabled: disabled, isRedeemed: redeemed, inviteExpires: expires))
    }

    func service(now: Date = Date(), onRedeem: @escaping @Sendable (RedeemedKey) -> Void = { _ in }) -> APIService {
        APIService(store: store, serverKey: serverKey, serverAddress: serverIP, now: { now }, onRedeem: onRedeem)
    }

    func request(from ip: String?, key: String?? = .none, body: Data = Data(), id: String? = nil) -> APIRequest {
        let header: String? = switch key {
        case .none: serverKey.base64
        case .some(let value): value
        }
        return APIRequest(callerIP: ip.flatMap(IPAddress.init), serverKey: header, body: body, pathID: id)
    }
}

func json(_ value: some Encodable) -> Data {
    (try? API.encoder().encode(value)) ?? Data()
}

func decoded<T: Decodable>(_ type: T.Type, _ response: APIResponse) throws -> T {
    try API.decoder().decode(type, from: response.body)
}

/// The StoreError a call throws, or nil.
func storeError(_ body: () throws -> Void) -> StoreError? {
    do {
        try body()
        return nil
    } catch let error as StoreError {
        return error
    } catch {
        return StoreError(.invalid, "unexpected \(error)")
    }
}
