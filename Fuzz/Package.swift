// swift-tools-version:5.4
// libFuzzer targets for every parser of outside bytes, outside the normal build:
// launch/fuzz TARGET [SECONDS] builds them with -sanitize=fuzzer,address and runs one.
// Tools version 5.4 and -parse-as-library: libFuzzer supplies `main`; from 5.5 on SwiftPM
// would link each executable expecting an entry point of its own.
import PackageDescription

let targets = ["Checkpoint", "SafeTensors", "IDX", "NumPy", "CIFAR", "Image", "Config", "Hostfile"]
let libraries: [String: [String]] = [
    "Checkpoint": ["Persistence", "Engine"], "SafeTensors": ["Persistence"],
    "IDX": ["Datasets"], "NumPy": ["Datasets"], "CIFAR": ["Datasets"], "Image": ["Datasets"],
    "Config": ["Config"], "Hostfile": ["Config"],
]

let package = Package(
    name: "ConcordFuzz",
    dependencies: [.package(name: "Concord", path: "..")],
    targets: [.target(name: "FuzzSupport")] + targets.map { name in
        .executableTarget(
            name: "Fuzz" + name,
            dependencies: ["FuzzSupport"] + libraries[name]!.map { .product(name: $0, package: "Concord") },
            swiftSettings: [.unsafeFlags(["-parse-as-library"])])
    }
)
