// swift-tools-version: 6.2
import PackageDescription

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "planbus",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "planbus", targets: ["planbus"]),
        .library(name: "Bus", targets: ["Bus"]),
        .library(name: "Roles", targets: ["Roles"]),
        .library(name: "Launcher", targets: ["Launcher"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // libinotifytools has no pkg-config file: a system-library target with a module map.
        .systemLibrary(
            name: "CInotifyTools",
            providers: [.apt(["libinotifytools0-dev"])]
        ),
        // Small C helpers Swift's Glibc module does not export (statfs, fork/exec, OFD locks).
        .target(name: "CPlanbusShim"),
        // What configuration and plan files share: durations, paths, quoting, YAML places.
        .target(
            name: "FileFormats",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: upcoming
        ),
        // Child processes: own group or session, no inherited descriptors, waited on a thread.
        .target(
            name: "Processes",
            dependencies: ["CPlanbusShim"],
            swiftSettings: upcoming
        ),
        .target(
            name: "Bus",
            dependencies: [
                "CInotifyTools",
                "CPlanbusShim",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "Roles",
            dependencies: [
                "Bus",
                "FileFormats",
                "Processes",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            resources: [.copy("Prompts")],
            swiftSettings: upcoming
        ),
        .target(
            name: "Launcher",
            dependencies: [
                "Bus",
                "FileFormats",
                "Roles",
                "Processes",
                "CPlanbusShim",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: upcoming
        ),
        // The bus benchmark behind `planbus bench bus`.
        .target(
            name: "BusBench",
            dependencies: ["Bus", "Roles", "Launcher", "Processes"],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "planbus",
            dependencies: [
                "Bus",
                "Roles",
                "Launcher",
                "Processes",
                "BusBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming
        ),
        // Testing support: helpers for tests, and a worker fixture process that tests drive.
        .target(
            name: "BusTesting",
            dependencies: ["Bus", "Launcher", "Processes"],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "PlanbusTestWorker",
            dependencies: [
                "Bus",
                "Roles",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "BusTests",
            dependencies: ["Bus", "BusTesting", "Launcher", "Processes", "planbus", "PlanbusTestWorker"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "LauncherTests",
            dependencies: [
                "Bus", "FileFormats", "Roles", "Launcher", "Processes", "BusTesting", "planbus", "PlanbusTestWorker",
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "RolesTests",
            dependencies: ["Bus", "BusBench", "FileFormats", "Roles", "Processes", "BusTesting", "planbus"],
            // Recorded agent outputs and the HTTP stub, read by the tests through #filePath.
            exclude: ["Fixtures"],
            swiftSettings: upcoming
        ),
    ]
)
