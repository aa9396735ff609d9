import Foundation
import Synchronization

/// A signal that something members see may have changed: an API write, or an upkeep pass that
/// recorded endpoints or reconciled peers (changes the admin subcommands make from another
/// process show up there). Held state requests wait on it and look again. A generation count
/// makes a signal that comes before the waiter is registered count all the same.
public final class StateChanges: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]
        /// Waits whose timeout fired before they were registered.
        var expired: Set<UUID> = []
    }

    private let state = Mutex(State())

    public init() {}

    public var generation: UInt64 { state.withLock { $0.generation } }

    public func signal() {
        let woken = state.withLock { s in
            s.generation += 1
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        woken.forEach { $0.resume() }
    }

    /// Returns once the generation has passed `generation`, or after `timeout`.
    public func wait(after generation: UInt64, timeout: Duration) async {
        let id = UUID()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let now = self.state.withLock { s in
                        if s.generation > generation || s.expired.remove(id) != nil { return true }
                        s.waiters[id] = continuation
                        return false
                    }
                    if now { continuation.resume() }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled else { return }
                let waiter = self.state.withLock { s -> CheckedContinuation<Void, Never>? in
                    if let waiter = s.waiters.removeValue(forKey: id) { return waiter }
                    s.expired.insert(id)
                    return nil
                }
                waiter?.resume()
            }
            await group.next()
            group.cancelAll()
        }
    }
}
