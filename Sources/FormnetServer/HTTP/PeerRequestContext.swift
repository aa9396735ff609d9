import Hummingbird
import WireGuard

/// The request context of the API: Hummingbird's core storage plus the TCP source address,
/// which on the tunnel is the calling peer's IP.
struct PeerRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let callerIP: IPAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        callerIP = source.channel.remoteAddress?.ipAddress.flatMap(IPAddress.init)
    }
}
