import FormnetKit
import WireGuard

/// Failures of the member agent, each worded so the user knows what happened and what to do.
public enum AgentError: Error, Equatable, CustomStringConvertible {
    /// The server's API did not answer in time or refused the connection. `connected` tells
    /// whether the request may have reached the server (it is unknown whether it acted on it).
    case serverUnreachable(endpoint: Endpoint, detail: String, connected: Bool)
    /// The server answered with an error status; `message` is its `API.ErrorBody`.
    case server(status: Int, message: String)
    /// The server answered 2xx with a body that is not what the API promises.
    case malformedResponse(String)
    case notInstalled(network: String, path: String)
    case alreadyInstalled(network: String, path: String)
    case interfaceNotUp(String)
    case invalidInput(String)
    case notFound(kind: String, name: String)

    public var description: String {
        switch self {
        case .serverUnreachable(let endpoint, let detail, _):
            return "the formnet server at \(endpoint) did not answer: \(detail)"
        case .server(let status, let message):
            return "the server refused the request (HTTP \(status)): \(message)"
        case .malformedResponse(let detail):
            return "the server's answer was not understood: \(detail)"
        case .notInstalled(let network, let path):
            return "network '\(network)' is not installed (no \(path)); run 'formnet install INVITATION.toml' first"
        case .alreadyInstalled(let network, let path):
            return "network '\(network)' is already installed (\(path) exists); run 'formnet uninstall \(network)' first or use --name"
        case .interfaceNotUp(let name):
            return "interface '\(name)' is not up; run 'formnet up \(name)' first"
        case .invalidInput(let detail):
            return detail
        case .notFound(let kind, let name):
            return "no \(kind) named '\(name)'"
        }
    }
}
