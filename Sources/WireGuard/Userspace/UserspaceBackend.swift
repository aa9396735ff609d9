import Foundation

/// WireGuard through wireguard-go: one daemon per interface, controlled over its UAPI socket.
/// The daemon creates and owns its TUN device; addresses, MTU and routes go through the same
/// rtnetlink code as the kernel backend (`RouteNetlink`).
public final class UserspaceBackend: WireGuardBackend {
    public let kind = BackendKind.userspace
    /// wireguard-go hard-codes this directory for its sockets, and `wg` looks there too.
    public static let defaultSocketDirectory = "/var/run/wireguard"
    /// How long to wait for a new daemon's socket, and for a stopped one to go away.
    let startTimeout: Duration
    let executable: String
    /// Where the daemons' sockets live; wireguard-go hard-codes the default, tests point it elsewhere.
    let socketDirectory: String

    public init(executable: String = "wireguard-go", startTimeout: Duration = .seconds(5),
                socketDirectory: String = UserspaceBackend.defaultSocketDirectory) {
        self.executable = executable
        self.startTimeout = startTimeout
        self.socketDirectory = socketDirectory
    }

    func connect(_ name: String) throws -> UAPISocket {
        try UAPISocket(interface: name, directory: socketDirectory)
    }

    public func createInterface(named name: String) throws {
        try InterfaceName.validate(name)
        if let probe = try? connect(name) {
            probe.close()
            throw WireGuardError.interfaceExists(name)
        }
        guard let path = Self.findExecutable(executable) else { throw WireGuardError.wireguardGoMissing }
        guard geteuid() == 0 || Capabilities.hasNetAdmin() else {
            throw WireGuardError.permissionDenied(operation: "create interface \(name)")
        }

        let log = FileManager.default.temporaryDirectory
            .appendingPathComponent("formnet-wireguard-go-\(name)-\(getpid()).log").path
        let logFD = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard logFD >= 0 else { throw WireGuardError.system(operation: "create \(log)", errno: errno) }
        defer {
            close(logFD)
            unlink(log)
        }

        // Foreground mode (-f) keeps the daemon the process that listens on the UAPI socket, so
        // SO_PEERCRED finds it again for `deleteInterface`; its own session detaches it from us.
        var environment = ProcessInfo.processInfo.environment
        environment["LOG_LEVEL"] = "error"
        let pid = try DaemonSpawn.spawn(path: path, arguments: ["-f", name], environment: environment, outputFD: logFD)

        let deadline = ContinuousClock.now + startTimeout
        while ContinuousClock.now < deadline {
            if let status = DaemonSpawn.exitStatus(of: pid) {
                let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                if output.lowercased().contains("operation not permitted") || output.lowercased().contains("permission denied") {
                    throw WireGuardError.permissionDenied(operation: "create TUN device \(name)")
                }
                throw WireGuardError.userspaceStartFailed(interface: name, detail: Self.summarize(output, status: status))
            }
            if let socket = try? connect(name) {
                socket.close()
                return
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        kill(pid, SIGTERM)
        throw WireGuardError.userspaceStartFailed(interface: name, detail: "its UAPI socket in \(socketDirectory) did not appear within \(startTimeout)")
    }

    public func deleteInterface(named name: String) throws {
        try InterfaceName.validate(name)
        let socket = try connect(name)
        let pid = try socket.peerPID()
        socket.close()
        guard kill(pid, SIGTERM) == 0 else {
            throw errno == EPERM
                ? WireGuardError.permissionDenied(operation: "stop wireguard-go for \(name)")
                : WireGuardError.system(operation: "stop wireguard-go (pid \(pid))", errno: errno)
        }
        // On SIGTERM wireguard-go closes the device, removes its TUN and socket, then exits.
        let deadline = ContinuousClock.now + startTimeout
        while ContinuousClock.now < deadline {
            if kill(pid, 0) != 0 && errno == ESRCH { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        kill(pid, SIGKILL)
    }

    public func interfaces() throws -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: socketDirectory)) ?? []
        return entries.filter { $0.hasSuffix(".sock") }
            .map { String($0.dropLast(".sock".count)) }
            .filter { name in
                guard let socket = try? connect(name) else { return false }
                socket.close()
                return true
            }
            .sorted()
    }

    public func device(named name: String) throws -> Device {
        try InterfaceName.validate(name)
        let socket = try connect(name)
        defer { socket.close() }
        return try UAPI.parseGet(try socket.roundTrip(UAPI.getRequest), name: name)
    }

    public func apply(_ update: DeviceUpdate, to name: String) throws {
        try InterfaceName.validate(name)
        let socket = try connect(name)
        defer { socket.close() }
        let errno = try UAPI.parseErrno(try socket.roundTrip(UAPI.setRequest(update)))
        guard errno == 0 else { throw WireGuardError.uapi(operation: "configure \(name)", errno: -errno) }
    }

    static func findExecutable(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    private static func summarize(_ output: String, status: Int32) -> String {
        let lines = output.split(separator: "\n").filter { !$0.contains("│") && !$0.contains("─") }
        let text = lines.suffix(3).joined(separator: "; ")
        return text.isEmpty ? "wireguard-go exited with status \(status)" : text
    }
}
