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
        .library(name: "Datasets", targets: ["Datasets"]),
        .library(name: "MPI", targets: ["MPI"]),
        .library(name: "Persistence", targets: ["Persistence"]),
        .library(name: "Config", targets: ["Config"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Methods", targets: ["Methods"]),
        .library(name: "Tools", targets: ["Tools"]),
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
        .systemLibrary(name: "CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),

        // The GEMM kernels, generic over vector width; the AVX-512 instantiation is compiled
        // for that target and chosen at run time (`CPUFeatures`), so one binary serves both.
        // Both are optimised in debug builds too: unspecialised generic kernels make the debug
        // test suite several times slower.
        .target(name: "EngineKernels", swiftSettings: kernelSettings(cpu: "haswell")),
        .target(name: "EngineKernelsAVX512", dependencies: ["EngineKernels"],
                swiftSettings: kernelSettings(cpu: "skylake-avx512")),
        .target(name: "Engine", dependencies: ["CBLAS", "EngineKernels", "EngineKernelsAVX512"],
                swiftSettings: numericSettings),
        // One level of {Datasets, MPI, Persistence, Config} above the engine; none imports another.
        .target(name: "Datasets", dependencies: ["Engine", "CZlib", "CPNG", "CTurboJPEG"], swiftSettings: numericSettings),
        .target(name: "MPI", dependencies: ["CMPI", "Engine"], swiftSettings: numericSettings),
        .target(name: "Persistence", dependencies: ["Engine", "CZstd"], swiftSettings: numericSettings),
        .target(name: "Config", dependencies: ["Engine", .product(name: "Yams", package: "Yams")]),
        // The loop, the one step, state and resume, schedules, run directory: knows no method.
        .target(name: "Training", dependencies: ["Engine", "Datasets", "MPI", "Persistence", "Config"],
                swiftSettings: numericSettings),
        // One folder per method, plus the monitors and the probe they share.
        .target(name: "Methods", dependencies: ["Engine", "Datasets", "MPI", "Persistence", "Config", "Training"],
                swiftSettings: numericSettings),
        // The golden runner and the bench.
        .target(name: "Tools", dependencies: ["Engine", "Datasets", "MPI", "Persistence", "Config", "Training", "Methods"],
                swiftSettings: numericSettings),
        .executableTarget(name: "concord",
                          dependencies: ["Tools", "Methods", "Training", "Config", "Persistence", "MPI", "Datasets", "Engine",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        .target(name: "TestSupport", dependencies: ["Engine"], path: "Tests/TestSupport"),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "EngineKernels", "EngineKernelsAVX512", "TestSupport"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "TestSupport"]),
        .testTarget(name: "MPITests", dependencies: ["MPI", "Engine", "TestSupport"]),
        .testTarget(name: "PersistenceTests", dependencies: ["Persistence", "Engine", "TestSupport"]),
        .testTarget(name: "ConfigTests", dependencies: ["Config", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Config", "Persistence", "Datasets", "MPI", "Engine", "TestSupport"]),
        .testTarget(name: "MethodsTests", dependencies: ["Methods", "Training", "Config", "Datasets", "MPI", "Engine", "TestSupport"]),
        .testTarget(name: "ToolsTests", dependencies: ["Tools", "Engine", "Persistence", "TestSupport"], exclude: ["Golden", "Fixtures"]),
        .testTarget(name: "IntegrationTests", dependencies: ["TestSupport", "Persistence", "Datasets", "Training"],
                    exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v5]
)
