// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "formnet",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "formnet", targets: ["formnet"]),
        .executable(name: "formnet-server", targets: ["formnet-server"]),
        .library(name: "WireGuard", targets: ["WireGuard"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.70.0"),
        // TOML for interface configs and invitations, innernet's file format.
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // The coordination server's store (SQLite) and its HTTP API.
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        // The member agent's client for the server's HTTP API.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
    ],
    targets: [
        // System libraries from Debian's -dev packages: module maps and shim headers only.
        .systemLibrary(name: "CNetlink", path: "Sources/CNetlink"),
        .systemLibrary(name: "CSodium", path: "Sources/CSodium"),
        .systemLibrary(name: "CEpoll", path: "Sources/CEpoll"),
        .systemLibrary(name: "CMaxMindDB", path: "Sources/CMaxMindDB", pkgConfig: "libmaxminddb"),

        // Batched UDP I/O and the one conversion between sockaddr and an address: every
        // datagram socket of the relay, its clients, the probe and STUN sit on it.
        .target(name: "Datagram"),
        .target(
            name: "WireGuard",
            dependencies: [
                "CNetlink", "CSodium", "Datagram",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "FormnetKit",
            dependencies: [
                "WireGuard", .product(name: "TOMLKit", package: "TOMLKit"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // NAT traversal's pure parts (step machine, candidates, cache, NAT type) and STUN.
        .target(name: "FormnetTraversal", dependencies: ["FormnetKit", "WireGuard", "Datagram"]),
        .target(name: "GeoIP", dependencies: ["CMaxMindDB", "FormnetKit", "WireGuard"]),
        // The relay protocol as both ends see it: frames, their layouts and the TCP stream framing.
        .target(name: "RelayWire", dependencies: ["Datagram", "WireGuard", "CSodium"]),
        .target(
            name: "RelayServer",
            dependencies: [
                "RelayWire", "Datagram", "WireGuard", "CEpoll",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .target(
            name: "RelayClient",
            dependencies: ["RelayWire", "Datagram", "WireGuard", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "formnet-relay-probe",
            dependencies: [
                "RelayWire", "RelayClient", "Datagram", "WireGuard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "FormnetAgent",
            dependencies: [
                "FormnetKit", "FormnetTraversal", "RelayWire", "RelayClient", "GeoIP", "WireGuard",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "formnet",
            dependencies: [
                "WireGuard", "RelayWire", "RelayServer", "FormnetAgent", "FormnetKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "FormnetServer",
            dependencies: [
                "FormnetKit", "FormnetTraversal", "RelayClient", "WireGuard",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "formnet-server",
            dependencies: [
                "WireGuard", "FormnetServer", "FormnetKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "DatagramTests", dependencies: ["Datagram"]),
        .testTarget(name: "WireGuardTests", dependencies: ["WireGuard"]),
        .testTarget(name: "FormnetKitTests", dependencies: ["FormnetKit", "WireGuard"]),
        .testTarget(name: "FormnetTraversalTests", dependencies: ["FormnetTraversal", "FormnetKit", "WireGuard"]),
        .testTarget(name: "GeoIPTests", dependencies: ["GeoIP", "FormnetKit", "WireGuard"]),
        .testTarget(name: "RelayWireTests", dependencies: ["RelayWire", "WireGuard"]),
        .testTarget(name: "RelayServerTests", dependencies: ["RelayServer", "RelayClient", "RelayWire", "WireGuard"]),
        .testTarget(
            name: "RelayClientTests",
            dependencies: [
                "RelayClient", "RelayServer", "RelayWire", "FormnetTraversal", "WireGuard",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "FormnetServerTests",
            dependencies: ["FormnetServer", "FormnetKit", "WireGuard", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "FormnetAgentTests",
            dependencies: [
                "FormnetAgent", "FormnetKit", "FormnetTraversal", "RelayWire", "RelayClient", "GeoIP", "WireGuard",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
    ]
)
