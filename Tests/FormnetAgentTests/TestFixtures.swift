import Foundation
import FormnetKit
import WireGuard

/// A small network: server 10.66.0.1 in "infra", members in "humans", as the server would send it.
struct Fixture {
    let serverKey = PrivateKey.generate().publicKey
    let ownKey = PrivateKey.generate()

    var config: InterfaceConfig {
        InterfaceConfig(
            interface: .init(networkName: "evilcorp", address: IPNetwork("10.66.1.2/16")!, privateKey: ownKey.base64),
            server: .init(publicKey: serverKey, externalEndpoint: Endpoint("192.0.2.7:51820")!,
                          internalEndpoint: Endpoint("10.66.0.1:51820")!))
    }

    let cidrs = [
        Cidr(id: 1, name: "evilcorp", cidr: IPNetwork("10.66.0.0/16")!, parent: nil),
        Cidr(id: 2, name: "infra", cidr: IPNetwork("10.66.0.0/24")!, parent: 1),
        Cidr(id: 3, name: "humans", cidr: IPNetwork("10.66.1.0/24")!, parent: 1),
    ]

    func peer(_ id: Int64, _ name: String, _ ip: String, key: PublicKey = PrivateKey.generate().publicKey,
              endpoint: String? = nil, disabled: Bool = false, redeemed: Bool = true, cidr: Int64 = 3) -> NetworkPeer {
        NetworkPeer(id: id, name: name, ip: IPAddress(ip)!, cidrId: cidr, publicKey: key,
                    endpoint: endpoint.flatMap(Endpoint.init), isDisabled: disabled, isRedeemed: redeemed)
    }

    func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "formnet-agent-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
