import Foundation

/// Starts a long-lived child with posix_spawn in a session of its own, so it outlives the
/// command that started it and no terminal hang-up reaches it.
///
/// Foundation's Process is not used: it signals child exit through a TCP socket pair on
/// 127.0.0.1, which never connects in a fresh network namespace whose loopback is still down,
/// and the caller then waits forever.
enum DaemonSpawn {
    /// glibc defines POSIX_SPAWN_SETSID only under _GNU_SOURCE, which Swift's Glibc module lacks.
    static let setsidFlag: Int16 = 0x80

    static func spawn(path: String, arguments: [String], environment: [String: String], outputFD: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outputFD, 1)
        posix_spawn_file_actions_adddup2(&actions, outputFD, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, setsidFlag)

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw WireGuardError.system(operation: "start \(path)", errno: rc) }
        return pid
    }

    /// The child's exit status if it has exited, nil while it runs.
    static func exitStatus(of pid: pid_t) -> Int32? {
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        // WIFEXITED / WEXITSTATUS are macros Swift does not import.
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
