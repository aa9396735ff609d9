import Datagram
import NIOConcurrencyHelpers
import RelayWire

/// One datagram batch of the relay's forwarding, shared by the main socket's loop and the
/// channels': the whole batch is decided under one acquisition of the state lock, what goes to
/// UDP leaves with sendmmsg from the slots it arrived in, and what goes to TCP clients is handed
/// over after the lock is released. Send failures are counted at the next batch, under its lock.
final class ForwardingBatch {
    /// Where one datagram of the batch goes.
    enum Next {
        case none
        /// `length` bytes from `start` in the datagram's slot, on `socket`.
        case udp(socket: Int32, to: RelayAddress, start: Int, length: Int)
        /// The first `length` bytes of the slot, to a TCP registration.
        case tcp(connection: UInt64, length: Int)
    }

    let datagrams: DatagramBatch
    private let family: Int32
    private let toTCP: (UInt64, UnsafeRawBufferPointer) -> Bool
    private var tcpFrames: [(connection: UInt64, slot: Int, length: Int)] = []
    private var sendFailures = 0

    init?(capacity: Int, family: Int32, toTCP: @escaping (UInt64, UnsafeRawBufferPointer) -> Bool) {
        guard let datagrams = DatagramBatch(capacity: capacity, slotSize: RelayWire.maxFrame) else { return nil }
        self.datagrams = datagrams
        self.family = family
        self.toTCP = toTCP
        tcpFrames.reserveCapacity(capacity)
    }

    /// Decides the `received` datagrams with `decide` (state, slot, length, source) and sends them.
    func forward(_ received: Int, state: NIOLockedValueBox<RelayState>,
                 decide: (inout RelayState, UnsafeMutableRawBufferPointer, Int, RelayAddress) -> Next) {
        tcpFrames.removeAll(keepingCapacity: true)
        state.withLockedValue { state in
            for _ in 0..<sendFailures { state.countSendFailure() }
            for i in 0..<received {
                guard let source = datagrams.source(i) else { continue }
                let slot = UnsafeMutableRawBufferPointer(start: datagrams.slot(i), count: datagrams.slotSize)
                switch decide(&state, slot, datagrams.length(i), source) {
                case .none:
                    continue
                case .tcp(let connection, let length):
                    tcpFrames.append((connection, i, length))
                case .udp(let socket, let destination, let start, let length):
                    if !datagrams.queue(slot.baseAddress! + start, length: length, on: socket, to: destination, family: family) {
                        state.countSendFailure()
                    }
                }
            }
        }
        sendFailures = datagrams.flush()
        for (connection, slot, length) in tcpFrames {
            if !toTCP(connection, UnsafeRawBufferPointer(start: datagrams.slot(slot), count: length)) { sendFailures += 1 }
        }
    }
}
