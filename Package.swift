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

        .target(
            name: "WireGuard",
            dependencies: [
                "CNetlink", "CSodium",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "FormnetKit",
            dependencies: ["WireGuard", "GeoIP", .product(name: "TOMLKit", package: "TOMLKit")]
        ),
        // NAT traversal's pure parts (step machine, candidates, cache, NAT type) and STUN.
        .target(name: "FormnetTraversal", dependencies: ["FormnetKit", "WireGuard"]),
        .target(name: "GeoIP", dependencies: ["CMaxMindDB", "WireGuard"]),
        .target(
            name: "FormnetRelay",
            dependencies: [
                "WireGuard", "CSodium", "CEpoll", "FormnetKit", "GeoIP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "formnet-relay-probe",
            dependencies: [
                "FormnetRelay", "WireGuard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "FormnetAgent",
            dependencies: [
                "FormnetKit", "FormnetTraversal", "FormnetRelay", "GeoIP", "WireGuard",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "formnet",
            dependencies: [
                "WireGuard", "FormnetRelay", "FormnetAgent", "FormnetKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "FormnetServer",
            dependencies: [
                "FormnetKit", "FormnetTraversal", "FormnetRelay", "WireGuard",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "formnet-server",
            dependencies: [
                "WireGuard", "FormnetServer", "FormnetKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "WireGuardTests", dependencies: ["WireGuard"]),
        .testTarget(name: "FormnetKitTests", dependencies: ["FormnetKit"]),
        .testTarget(name: "FormnetTraversalTests", dependencies: ["FormnetTraversal"]),
        .testTarget(name: "GeoIPTests", dependencies: ["GeoIP"]),
        .testTarget(name: "FormnetRelayTests", dependencies: ["FormnetRelay", "FormnetTraversal"]),
        .testTarget(name: "FormnetServerTests", dependencies: ["FormnetServer"]),
        .testTarget(name: "FormnetAgentTests", dependencies: ["FormnetAgent"]),
    ]
)
