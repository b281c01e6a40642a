// swift-tools-version:6.0
import PackageDescription

// Numeric targets: no exclusivity checks in kernels (buffers are managed by hand; the
// preconditions that guard shapes stay on), and on Linux Haswell-level code (AVX2 + FMA,
// every x86 server since 2013-2015) so loops vectorise 8 floats wide. `concord` checks the
// CPU at start-up and says so clearly instead of dying on an illegal instruction.
let numericSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
    .unsafeFlags(["-target-cpu", "haswell"], .when(platforms: [.linux])),
]

// The kernels are generic `@inlinable` code in EngineKernels, specialised where each
// instruction-set module calls them. SwiftPM's incremental build does not recompile
// EngineKernelsAVX512 when only such a body changes: after editing a kernel, touch
// Sources/EngineKernelsAVX512/ShiftedGemmAVX512.swift (or build clean) before measuring.
func kernelSettings(cpu: String) -> [SwiftSetting] {
    [
        .unsafeFlags(["-enforce-exclusivity=unchecked"]),
        .unsafeFlags(["-O"], .when(configuration: .debug)),
        .unsafeFlags(["-target-cpu", cpu], .when(platforms: [.linux])),
    ]
}

let package = Package(
    name: "Concord",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "concord", targets: ["concord"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Data", targets: ["Data"]),
        .library(name: "MPI", targets: ["MPI"]),
        .library(name: "Coordinator", targets: ["Coordinator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // C shims: system libraries found through pkg-config; nothing but declarations.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),

        // The GEMM kernels, generic over vector width; the AVX-512 instantiation is compiled
        // for that target and chosen at run time (`CPUFeatures`), so one binary serves both.
        // Both are optimised in debug builds too: unspecialised generic kernels make the debug
        // test suite several times slower.
        .target(name: "EngineKernels", swiftSettings: kernelSettings(cpu: "haswell")),
        .target(name: "EngineKernelsAVX512", dependencies: ["EngineKernels"],
                swiftSettings: kernelSettings(cpu: "skylake-avx512")),
        .target(name: "Engine", dependencies: ["CBLAS", "EngineKernels", "EngineKernelsAVX512"],
                swiftSettings: numericSettings),
        .target(name: "Data", dependencies: ["Engine", "CZlib"], swiftSettings: numericSettings),
        .target(name: "MPI", dependencies: ["CMPI", "Engine"], swiftSettings: numericSettings),
        .target(name: "Coordinator",
                dependencies: ["Engine", "Data", "MPI", "CZstd", .product(name: "Yams", package: "Yams")],
                swiftSettings: numericSettings),
        .executableTarget(name: "concord",
                          dependencies: ["Coordinator", "Engine", "Data", "MPI",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        .target(name: "TestSupport", dependencies: ["Engine"], path: "Tests/TestSupport"),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "TestSupport"]),
        .testTarget(name: "DataTests", dependencies: ["Data", "TestSupport"]),
        .testTarget(name: "MPITests", dependencies: ["MPI", "Engine", "TestSupport"]),
        .testTarget(name: "CoordinatorTests", dependencies: ["Coordinator", "Engine", "Data", "MPI", "TestSupport"],
                    exclude: ["Golden"]),
        .testTarget(name: "IntegrationTests", dependencies: ["TestSupport", "Data", "Coordinator"]),
    ],
    swiftLanguageModes: [.v5]
)
