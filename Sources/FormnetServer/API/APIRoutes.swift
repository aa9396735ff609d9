import FormnetKit

/// One route of the API: method, path (`:id` marks the record id) and its handler.
public struct APIRoute: Sendable {
    public let method: String
    public let path: String
    public let handler: @Sendable (APIService) -> (APIRequest) -> APIResponse

    init(_ method: String, _ path: String, _ handler: @escaping @Sendable (APIService) -> (APIRequest) -> APIResponse) {
        self.method = method
        self.path = path
        self.handler = handler
    }
}

extension APIService {
    /// Every route the server answers, the paths being those of `API.Path`.
    public static let routes: [APIRoute] = [
        APIRoute("GET", API.Path.state, { $0.state }),
        APIRoute("POST", API.Path.redeem, { $0.redeem }),
        APIRoute("PUT", API.Path.endpoint, { $0.setEndpoint }),
        APIRoute("PUT", API.Path.candidates, { $0.setCandidates }),
        APIRoute("POST", API.Path.relay, { $0.announceRelay }),
        APIRoute("DELETE", API.Path.relay, { $0.withdrawRelay }),
        APIRoute("GET", API.Path.capabilities, { $0.capabilities }),
        APIRoute("GET", API.Path.adminPeers, { $0.listPeers }),
        APIRoute("POST", API.Path.adminPeers, { $0.addPeer }),
        APIRoute("PUT", "\(API.Path.adminPeers)/:id", { $0.updatePeer }),
        APIRoute("GET", API.Path.adminCidrs, { $0.listCidrs }),
        APIRoute("POST", API.Path.adminCidrs, { $0.addCidr }),
        APIRoute("PUT", "\(API.Path.adminCidrs)/:id", { $0.updateCidr }),
        APIRoute("DELETE", "\(API.Path.adminCidrs)/:id", { $0.deleteCidr }),
        APIRoute("GET", API.Path.adminAssociations, { $0.listAssociations }),
        APIRoute("POST", API.Path.adminAssociations, { $0.addAssociation }),
        APIRoute("DELETE", "\(API.Path.adminAssociations)/:id", { $0.deleteAssociation }),
    ]
}
