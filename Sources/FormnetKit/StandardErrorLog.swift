import Foundation
import Logging

/// Log lines on standard error with millisecond timestamps: swift-log's StreamLogHandler prints
/// whole seconds, and the timers read from these logs (re-sent initiations, probe rounds, relay
/// fallbacks) are tenths of a second apart on a WAN.
public struct StandardErrorLog: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String

    public init(label: String, level: Logger.Level = .info) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?,
        source: String, file: String, function: String, line: UInt
    ) {
        let merged = metadata.merging(explicit ?? [:]) { _, new in new }
        let fields = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        var text = "\(Self.timestamp(Date())) \(level) \(label):\(fields) [\(source)] \(message)\n"
        // One write(2) per line, its result ignored: FileHandle's write traps on an error, and a
        // daemon whose standard error was closed or piped to a reader that went away must not die
        // of a log line.
        text.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// UTC, ISO 8601 with milliseconds: 2026-12-07T06:55:53.214Z.
    static func timestamp(_ date: Date) -> String {
        let total = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var seconds = time_t(total / 1000)
        let millis = Int(total % 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), millis)
    }
}
