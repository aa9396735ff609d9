import FormnetKit
import Logging

/// The server logs to standard error, leaving standard output to what commands print.
public enum ServerLog {
    public static func bootstrap() {
        LoggingSystem.bootstrap { StandardErrorLog(label: $0) }
    }

    public static func logger() -> Logger {
        Logger(label: "formnet-server")
    }
}
