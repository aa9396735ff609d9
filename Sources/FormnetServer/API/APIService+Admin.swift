import FormnetKit
import Foundation

/// The admin routes: the whole registry, read and changed by admin members.
extension APIService {
    public func listPeers(_ request: APIRequest) -> APIResponse {
        handle(request, .admin) { _ in .json(try store.peers()) }
    }

    public func addPeer(_ request: APIRequest) -> APIResponse {
        handle(request, .admin) { _ in
            let contents = try decode(API.PeerContents.self, from: request.body)
            return .json(try store.addPeer(contents), status: 201)
        }
    }

    public func updatePeer(_ request: APIRequest) -> APIResponse {
        handle(request, .admin) { _ in
            let id = try id(request)
            let contents = try decode(API.PeerContents.self, from: request.body)
            if contents.isDisabled, try store.peer(id: id)?.ip == serverAddress {
                throw BadRequest(reason: "the server's own peer cannot be disabled")
            }
            return .json(try store.updatePeer(id: id, to: contents))
        }
    }

    public func listCidrs(_ request: APIRequest) -> APIResponse {
        handle(request, .admin) { _ in .json(try store.cidrs()) }
    }

    public func addCidr(_ request: APIRequest) -> APIResponse {
        handle(request, .admin) { _ in
            let contents = try decode(API.CidrContents.self, from: request.body)
            return .json(try store.addCidr(contents), status: 201)
        }
    }

    public func updateCidr(_ request: APIRequest) -> APIResponse {
        handle(request, .admin) { _ in
            let id = try id(request)
            let contents = try decode(API.CidrContents.self, from: request.body)
            return .json(try store.updateCidr(id: id, to: contents))
        }
    }

    public func deleteCidr(_ request: APIRequest) -> APIResponse {
        handle(request, .admin) { _ in
            try store.deleteCidr(id: try id(request))
            return .noContent
        }
    }

    public func listAssociations(_ request: APIRequest) -> APIResponse {
        handle(request, .admin) { _ in .json(try store.associations()) }
    }

    public func addAssociation(_ request: APIRequest) -> APIResponse {
        handle(request, .admin) { _ in
            let contents = try decode(API.AssociationContents.self, from: request.body)
            return .json(try store.addAssociation(contents), status: 201)
        }
    }

    public func deleteAssociation(_ request: APIRequest) -> APIResponse {
        handle(request, .admin) { _ in
            try store.deleteAssociation(id: try id(request))
            return .noContent
        }
    }
}
