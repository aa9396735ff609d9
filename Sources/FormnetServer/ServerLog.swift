import Logging

/// The server logs to standard error, leaving standard output to what commands print.
public enum ServerLog {
    public static func bootstrap() {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
    }

    public static func logger() -> Logger {
        Logger(label: "formnet-server")
    }
}
