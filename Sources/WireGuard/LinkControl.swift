/// Interface plumbing that both backends share: links, addresses, MTU, state and routes,
/// implemented over rtnetlink by `RouteNetlink`.
public protocol LinkControl: Sendable {
    /// Create a link of kind "wireguard" (kernel backend only; wireguard-go makes its own TUN).
    func createWireGuardLink(named name: String) throws
    func deleteLink(named name: String) throws
    /// Names of links whose kind is "wireguard".
    func wireGuardLinks() throws -> [String]
    /// The link's index, or nil when there is no such link.
    func linkIndex(named name: String) throws -> Int32?
    func addAddress(_ address: IPNetwork, to name: String) throws
    func setMTU(_ mtu: UInt32, on name: String) throws
    func setUp(_ up: Bool, name: String) throws
    /// A route to `network` through the link (scope link, main table); an existing equal route is fine.
    func addRoute(_ network: IPNetwork, via name: String) throws
}
