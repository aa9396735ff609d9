import Glibc

/// recvmmsg(2) and sendmmsg(2). Glibc declares them only under _GNU_SOURCE, which Swift's Glibc
/// module is not built with, so neither the functions nor `struct mmsghdr` import; the functions
/// are looked up once with dlsym and `mmsghdr` is declared here with the C layout (a msghdr
/// followed by an unsigned int, padded to the msghdr's alignment).
@usableFromInline
struct MultipleMessageHeader {
    @usableFromInline var header = msghdr()
    @usableFromInline var length: UInt32 = 0
}

enum BatchedDatagramIO {
    typealias ReceiveFunction = @convention(c) (Int32, UnsafeMutableRawPointer?, UInt32, Int32, UnsafeMutablePointer<timespec>?) -> Int32
    typealias SendFunction = @convention(c) (Int32, UnsafeMutableRawPointer?, UInt32, Int32) -> Int32

    static let receive: ReceiveFunction? = lookup("recvmmsg")
    static let send: SendFunction? = lookup("sendmmsg")

    /// MSG_WAITFORONE, which Glibc also declares only under _GNU_SOURCE.
    static let waitForOne: Int32 = 0x10000

    private static func lookup<F>(_ name: String) -> F? {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(symbol, to: F.self)
    }
}
