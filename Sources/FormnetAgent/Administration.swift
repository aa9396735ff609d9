import Foundation
import FormnetKit
import WireGuard

/// The admin commands over the API: they name peers and CIDRs, the API speaks in ids, so each
/// looks the names up first. The server checks everything again; the checks here only give a
/// clearer message before a request is made.
public struct Administration {
    public let client: APIClient
    public let config: InterfaceConfig

    public init(client: APIClient, config: InterfaceConfig) {
        self.client = client
        self.config = config
    }

    public struct NewPeer {
        public var name: String
        public var cidr: String
        /// Nil: the first free address of the CIDR.
        public var ip: IPAddress?
        public var isAdmin: Bool
        public var expiresIn: TimeInterval
        public var invitationPath: String

        public init(name: String, cidr: String, ip: IPAddress?, isAdmin: Bool, expiresIn: TimeInterval, invitationPath: String) {
            self.name = name
            self.cidr = cidr
            self.ip = ip
            self.isAdmin = isAdmin
            self.expiresIn = expiresIn
            self.invitationPath = invitationPath
        }
    }

    /// Creates the peer with a locally generated invitation key (only its public half is sent)
    /// and writes the invitation 0600. Returns the peer as the server recorded it.
    @discardableResult
    public func addPeer(_ request: NewPeer, now: Date = Date()) throws -> NetworkPeer {
        try validateName(request.name, kind: "peer")
        guard !FileManager.default.fileExists(atPath: request.invitationPath) else {
            throw AgentError.invalidInput("\(request.invitationPath) already exists; choose another --save-config path")
        }
        let peers = try client.peers()
        guard !peers.contains(where: { $0.name == request.name }) else {
            throw AgentError.invalidInput("a peer named '\(request.name)' already exists")
        }
        let cidr = try cidr(named: request.cidr, in: try client.cidrs())
        let taken = Set(peers.map(\.ip)).union([config.server.internalEndpoint.address])
        let ip: IPAddress
        if let wanted = request.ip {
            guard cidr.cidr.contains(wanted) else {
                throw AgentError.invalidInput("\(wanted) is outside CIDR '\(cidr.name)' (\(cidr.cidr.canonical))")
            }
            guard !taken.contains(wanted) else { throw AgentError.invalidInput("\(wanted) is already taken") }
            ip = wanted
        } else {
            guard let free = Invitation.firstFreeIP(in: cidr.cidr, taken: taken) else {
                throw AgentError.invalidInput("CIDR '\(cidr.name)' (\(cidr.cidr.canonical)) has no free address")
            }
            ip = free
        }
        let key = PrivateKey.generate()
        let invitation = try Invitation.make(for: ip, key: key, adminConfig: config)
        let peer = try client.addPeer(API.PeerContents(
            name: request.name, ip: ip, cidrId: cidr.id, publicKey: key.publicKey,
            persistentKeepalive: DesiredPeer.defaultKeepalive, isAdmin: request.isAdmin,
            inviteExpires: now.addingTimeInterval(request.expiresIn)))
        try invitation.save(to: request.invitationPath)
        return peer
    }

    public func setDisabled(_ name: String, _ disabled: Bool) throws {
        try changePeer(name) { $0.isDisabled = disabled }
    }

    public func renamePeer(_ name: String, to newName: String) throws {
        try validateName(newName, kind: "peer")
        try changePeer(name) { $0.name = newName }
    }

    private func changePeer(_ name: String, _ change: (inout API.PeerContents) -> Void) throws {
        guard let peer = try client.peers().first(where: { $0.name == name }) else {
            throw AgentError.notFound(kind: "peer", name: name)
        }
        var contents = API.PeerContents(
            name: peer.name, ip: peer.ip, cidrId: peer.cidrId, publicKey: peer.publicKey, endpoint: peer.endpoint,
            persistentKeepalive: peer.persistentKeepalive, isAdmin: peer.isAdmin, isDisabled: peer.isDisabled,
            isRedeemed: peer.isRedeemed, inviteExpires: peer.inviteExpires)
        change(&contents)
        try client.updatePeer(peer.id, contents)
    }

    @discardableResult
    public func addCidr(name: String, cidr text: String, parent parentName: String) throws -> Cidr {
        try validateName(name, kind: "CIDR")
        guard let network = IPNetwork(text), text.contains("/") else {
            throw AgentError.invalidInput("invalid CIDR '\(text)': want ADDRESS/PREFIX, e.g. 10.66.2.0/24")
        }
        guard network == network.canonical else {
            throw AgentError.invalidInput("'\(text)' has host bits set; did you mean \(network.canonical)?")
        }
        let cidrs = try client.cidrs()
        guard !cidrs.contains(where: { $0.name == name }) else {
            throw AgentError.invalidInput("a CIDR named '\(name)' already exists")
        }
        let parent = try cidr(named: parentName, in: cidrs)
        guard parent.cidr.contains(network.address), network.prefixLength > parent.cidr.prefixLength else {
            throw AgentError.invalidInput("\(network) is not inside the parent '\(parent.name)' (\(parent.cidr.canonical))")
        }
        return try client.addCidr(API.CidrContents(name: name, cidr: network, parent: parent.id))
    }

    public func deleteCidr(named name: String) throws {
        try client.deleteCidr(try cidr(named: name, in: try client.cidrs()).id)
    }

    public func listCidrs(tree: Bool) throws -> [String] {
        let cidrs = try client.cidrs()
        if tree { return CidrTree.render(cidrs) }
        return cidrs.sorted(by: CidrTree.precedes).map { "\($0.cidr.canonical) \($0.name)" }
    }

    @discardableResult
    public func addAssociation(_ first: String, _ second: String) throws -> Association {
        let cidrs = try client.cidrs()
        let a = try cidr(named: first, in: cidrs), b = try cidr(named: second, in: cidrs)
        guard a.id != b.id else { throw AgentError.invalidInput("a CIDR cannot be associated with itself") }
        return try client.addAssociation(API.AssociationContents(cidrId1: a.id, cidrId2: b.id))
    }

    public func deleteAssociation(_ first: String, _ second: String) throws {
        let cidrs = try client.cidrs()
        let a = try cidr(named: first, in: cidrs).id, b = try cidr(named: second, in: cidrs).id
        guard let association = try client.associations().first(where: {
            ($0.cidrId1 == a && $0.cidrId2 == b) || ($0.cidrId1 == b && $0.cidrId2 == a)
        }) else {
            throw AgentError.notFound(kind: "association", name: "\(first) <-> \(second)")
        }
        try client.deleteAssociation(association.id)
    }

    public func listAssociations() throws -> [String] {
        let names = Dictionary(try client.cidrs().map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        return try client.associations().map {
            "\(names[$0.cidrId1] ?? "#\($0.cidrId1)") <-> \(names[$0.cidrId2] ?? "#\($0.cidrId2)")"
        }
    }

    private func cidr(named name: String, in cidrs: [Cidr]) throws -> Cidr {
        guard let cidr = cidrs.first(where: { $0.name == name }) else { throw AgentError.notFound(kind: "CIDR", name: name) }
        return cidr
    }

    private func validateName(_ name: String, kind: String) throws {
        do {
            try Names.validateHost(name, kind: kind)
        } catch {
            throw AgentError.invalidInput(error.description)
        }
    }
}
