import FormnetKit
import Foundation
import WireGuard

/// The admin subcommands' changes, addressed by name as users type them.
public struct RegistryAdmin: Sendable {
    public let store: Store
    public let config: ServerConfig

    public init(store: Store, config: ServerConfig) {
        self.store = store
        self.config = config
    }

    public func peer(named name: String) throws -> NetworkPeer {
        guard let peer = try store.peer(named: name) else { throw StoreError(.notFound, "no peer named '\(name)'") }
        return peer
    }

    public func cidr(named name: String) throws -> Cidr {
        guard let cidr = try store.cidr(named: name) else { throw StoreError(.notFound, "no CIDR named '\(name)'") }
        return cidr
    }

    @discardableResult
    public func setDisabled(peerNamed name: String, _ disabled: Bool) throws -> NetworkPeer {
        let peer = try peer(named: name)
        if disabled, peer.ip == config.address {
            throw StoreError(.invalid, "the server's own peer cannot be disabled")
        }
        var contents = peer.contents
        contents.isDisabled = disabled
        return try store.updatePeer(id: peer.id, to: contents)
    }

    @discardableResult
    public func renamePeer(_ name: String, to newName: String) throws -> NetworkPeer {
        let peer = try peer(named: name)
        var contents = peer.contents
        contents.name = newName
        return try store.updatePeer(id: peer.id, to: contents)
    }

    @discardableResult
    public func addCidr(name: String, range: IPNetwork, parentNamed parent: String) throws -> Cidr {
        try store.addCidr(API.CidrContents(name: name, cidr: range, parent: try cidr(named: parent).id))
    }

    @discardableResult
    public func renameCidr(_ name: String, to newName: String) throws -> Cidr {
        let cidr = try cidr(named: name)
        return try store.updateCidr(id: cidr.id, to: API.CidrContents(name: newName, cidr: cidr.cidr, parent: cidr.parent))
    }

    public func deleteCidr(named name: String) throws {
        try store.deleteCidr(id: try cidr(named: name).id)
    }
}
