import Foundation

/// Coordinates in microdegrees, as carried on the wire; `Int32.min` means unknown.
public struct RelayLocation: Hashable, Sendable {
    public var latitudeMicrodegrees: Int32
    public var longitudeMicrodegrees: Int32

    public static let encodedLength = 8
    static let longitudeOffset = 4

    public static let unknown = RelayLocation(latitudeMicrodegrees: RelayWire.latLonUnknown, longitudeMicrodegrees: RelayWire.latLonUnknown)

    public init(latitudeMicrodegrees: Int32, longitudeMicrodegrees: Int32) {
        self.latitudeMicrodegrees = latitudeMicrodegrees
        self.longitudeMicrodegrees = longitudeMicrodegrees
    }

    /// "48.85,2.35"; nil when not two numbers within ±90 and ±180.
    public init?(parsing text: String) {
        let parts = text.split(separator: ",")
        guard parts.count == 2,
              let lat = Double(parts[0].trimmingCharacters(in: .whitespaces)),
              let lon = Double(parts[1].trimmingCharacters(in: .whitespaces)),
              (-90...90).contains(lat), (-180...180).contains(lon) else { return nil }
        self.init(latitudeMicrodegrees: Int32(lat * 1_000_000), longitudeMicrodegrees: Int32(lon * 1_000_000))
    }

    public var isKnown: Bool { latitudeMicrodegrees != RelayWire.latLonUnknown && longitudeMicrodegrees != RelayWire.latLonUnknown }

    func encode(into bytes: inout [UInt8]) {
        BigEndian.append(UInt32(bitPattern: latitudeMicrodegrees), to: &bytes)
        BigEndian.append(UInt32(bitPattern: longitudeMicrodegrees), to: &bytes)
    }

    static func decode(_ frame: UnsafeRawBufferPointer, at offset: Int) -> RelayLocation {
        RelayLocation(latitudeMicrodegrees: Int32(bitPattern: BigEndian.readU32(frame, at: offset)),
                      longitudeMicrodegrees: Int32(bitPattern: BigEndian.readU32(frame, at: offset + longitudeOffset)))
    }
}
