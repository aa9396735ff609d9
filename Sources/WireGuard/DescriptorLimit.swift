import Glibc

/// The process's open-file limit. Daemons that hold a socket per client (the relay's channels,
/// the server's long polls) raise the soft limit, often 1024, to the hard one at start.
public enum DescriptorLimit {
    /// The soft limit after raising it to the hard limit (unchanged if that fails).
    @discardableResult
    public static func raiseToHard() -> UInt64 {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { return UInt64(raised.rlim_cur) }
        }
        return UInt64(limit.rlim_cur)
    }
}
