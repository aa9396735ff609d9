import FormnetKit
import Foundation

/// The routes every member uses.
extension APIService {
    /// Features a member may rely on; a member checks for one before using its route.
    public static let features = ["candidates", "endpoint-override", "redeem-transition-5s", "nat-type", "state-long-poll",
                                  "relays"]

    /// GET state: the peers and CIDRs the caller may see (`Visibility`) and the network's relays,
    /// tagged for held requests (`StateTag`).
    public func state(_ request: APIRequest) -> APIResponse {
        handle(request, .member) { caller in
            let snapshot = try store.snapshot()
            let state = Visibility.state(for: caller, in: snapshot, infrastructure: infrastructureCidrID(in: snapshot), now: now())
            return APIResponse(status: 200, body: try API.encoder().encode(state), etag: try StateTag.of(state))
        }
    }

    /// POST redeem: the invitation's temporary key gives way to the member's own. The answer
    /// goes back over the tunnel under the old key, so the server's device switches keys only
    /// after `API.redeemTransitionWait`; the member waits as long before using its new key.
    public func redeem(_ request: APIRequest) -> APIResponse {
        handle(request, .invitee) { caller in
            let body = try decode(API.RedeemRequest.self, from: request.body)
            let (oldKey, peer) = try store.redeem(peerID: caller.id, newKey: body.publicKey, now: now())
            onRedeem(RedeemedKey(oldKey: oldKey, newKey: peer.publicKey))
            return .noContent
        }
    }

    /// PUT endpoint: sets the endpoint others use for the caller, or clears the override.
    public func setEndpoint(_ request: APIRequest) -> APIResponse {
        handle(request, .member) { caller in
            let body = try decode(API.EndpointOverride.self, from: request.body)
            try store.setEndpointOverride(peerID: caller.id, body.endpoint)
            return .noContent
        }
    }

    /// PUT candidates: replaces the caller's host candidates (at most `API.maxCandidates`) and,
    /// when sent, its relays (at most `API.maxReportedRelays`).
    public func setCandidates(_ request: APIRequest) -> APIResponse {
        handle(request, .member) { caller in
            let body = try decode(API.Candidates.self, from: request.body)
            try store.setCandidates(peerID: caller.id, body.candidates, natType: body.natType, relays: body.relays)
            return .noContent
        }
    }

    /// POST relay: records (or renews) the relay the caller runs. Without an explicit endpoint
    /// members are given the caller's endpoint address, so one must be known (409 otherwise).
    public func announceRelay(_ request: APIRequest) -> APIResponse {
        handle(request, .member) { caller in
            let body = try decode(API.RelayAnnouncement.self, from: request.body)
            try store.announceRelay(peerID: caller.id, body, now: now())
            return .noContent
        }
    }

    /// DELETE relay: the caller stopped running its relay.
    public func withdrawRelay(_ request: APIRequest) -> APIResponse {
        handle(request, .member) { caller in
            try store.withdrawRelay(peerID: caller.id)
            return .noContent
        }
    }

    /// GET capabilities: open to invitees too, so an installer can check before redeeming.
    public func capabilities(_ request: APIRequest) -> APIResponse {
        handle(request, .invitee) { _ in
            .json(API.Capabilities(version: API.version, features: Self.features, stun: stunObservers.isEmpty ? nil : stunObservers))
        }
    }
}
