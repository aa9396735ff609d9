import Foundation

/// What `--json` prints for scripts (`show`, `list-relays`): one object when the user named one
/// network, else an array with one object per network; pretty, keys sorted, dates ISO 8601.
public enum ScriptJSON {
    public static func encode<Item: Encodable>(_ items: [Item], single: Bool) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let data = single && items.count == 1 ? try encoder.encode(items[0]) : try encoder.encode(items)
        return String(decoding: data, as: UTF8.self)
    }
}
