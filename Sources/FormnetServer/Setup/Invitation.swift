import FormnetKit
import Foundation
import WireGuard

/// `formnet-server add-peer`: a new, unredeemed peer and its invitation file. The invitation
/// holds a temporary private key; the store keeps only its public half, and the member swaps
/// it for a key of its own when it redeems.
public enum Invitation {
    public struct Request: Sendable {
        public var name: String
        /// Nil picks the first free address of the CIDR.
        public var ip: IPAddress?
        public var cidrName: String
        public var isAdmin: Bool
        public var expiresAfter: TimeInterval
        public var savePath: String

        public init(name: String, ip: IPAddress?, cidrName: String, isAdmin: Bool, expiresAfter: TimeInterval, savePath: String) {
            self.name = name
            self.ip = ip
            self.cidrName = cidrName
            self.isAdmin = isAdmin
            self.expiresAfter = expiresAfter
            self.savePath = savePath
        }
    }

    /// Adds the peer and writes its invitation (0600, atomically) in one step: if the file
    /// cannot be written the peer is not added, and an existing file is never overwritten.
    public static func create(_ request: Request, network: String, config: ServerConfig, store: Store,
                              now: Date = Date()) throws -> NetworkPeer {
        guard let serverKey = config.privateKeyValue?.publicKey else {
            throw StoreError(.invalid, "the server config has no valid private key")
        }
        guard request.expiresAfter > 0 else { throw StoreError(.invalid, "the invitation must expire in the future") }
        guard !FileManager.default.fileExists(atPath: request.savePath) else {
            throw StoreError(.conflict, "\(request.savePath) already exists; remove it or choose another path")
        }
        guard let cidr = try store.cidr(named: request.cidrName) else {
            throw StoreError(.invalid, "no CIDR named '\(request.cidrName)'")
        }
        let temporaryKey = PrivateKey.generate()
        let contents = API.PeerContents(
            name: request.name, ip: request.ip ?? config.address, cidrId: cidr.id, publicKey: temporaryKey.publicKey,
            persistentKeepalive: DesiredPeer.defaultKeepalive, isAdmin: request.isAdmin,
            isRedeemed: false, inviteExpires: now.addingTimeInterval(request.expiresAfter))
        return try store.addPeer(contents, address: request.ip == nil ? .firstFree : .given) { peer in
            guard let address = IPNetwork(address: peer.ip, prefixLength: config.networkCidrPrefix) else {
                throw StoreError(.invalid, "\(peer.ip) does not fit the network prefix /\(config.networkCidrPrefix)")
            }
            let invitation = InterfaceConfig(
                interface: .init(networkName: network, address: address, privateKey: temporaryKey.base64),
                server: .init(publicKey: serverKey, externalEndpoint: config.externalEndpoint, internalEndpoint: config.apiEndpoint))
            try invitation.save(to: request.savePath)
        }
    }
}
