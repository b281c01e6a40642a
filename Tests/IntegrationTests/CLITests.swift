import Engine
import Foundation
import TestSupport
import XCTest

/// Runs the built `concord` tool as a user would and checks its output and exit status.
final class CLITests: XCTestCase {
    func testGoldenPassesEveryPublicCase() throws {
        let r = try Concord.run(["golden", Concord.goldenDirectory])
        XCTAssertEqual(r.status, 0, r.output)
        let lines = r.output.split(separator: "\n")
        for name in ["conv2d_3x3_s2_p1", "batch_norm2d_train", "info_nce", "resnet20_sgd_2steps", "cross_entropy_smoothed",
                     "gelu", "softmax", "scaled_dot_product_attention_cross", "multi_head_attention", "conv2d_4x4_s4_p0_bias",
                     "vit_adamw_2steps"] {
            let line = try XCTUnwrap(lines.first { $0.hasPrefix(name) }, "no line for \(name)")
            XCTAssertTrue(line.hasSuffix("pass"), String(line))
        }
        XCTAssertTrue(r.output.contains("0 failed"), r.output)
    }

    func testGoldenOnMissingDirectoryFailsWithOneLine() throws {
        let r = try Concord.run(["golden", "/nonexistent/golden"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("/nonexistent/golden"), r.output)
    }

    func testGoldenFailsOnAWrongCase() throws {
        // A copy of a real case whose expected output is perturbed must be reported as FAIL.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("golden-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Concord.goldenDirectory + "/relu.safetensors")))
        bytes[bytes.count - 1] ^= 0x40   // flips the top exponent bit of the last stored value
        try Data(bytes).write(to: dir.appendingPathComponent("relu_broken.safetensors"))
        let r = try Concord.run(["golden", dir.path])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("FAIL"), r.output)
    }

    func testBenchPrintsOneJSONLine() throws {
        let r = try Concord.run(["bench", "--model", "mlp", "--steps", "2", "--warmup", "1", "--batch", "16", "--synthetic"])
        XCTAssertEqual(r.status, 0, r.output)
        let line = try XCTUnwrap(r.output.split(separator: "\n").last)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        for key in ["model", "threads", "batch", "images_per_s", "peak_rss_mib"] { XCTAssertNotNil(json[key], key) }
        XCTAssertGreaterThan(json["images_per_s"] as? Double ?? 0, 0)
    }

    func testUnknownBenchModelIsAnError() throws {
        let r = try Concord.run(["bench", "--model", "vgg"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("vgg"), r.output)
    }

    /// With OPENBLAS_CORETYPE unset, concord loads the kernels it prefers for this CPU itself
    /// (SkylakeX with AVX-512, else Haswell; not OpenBLAS's guess); a value the user set is
    /// kept. The bench JSON says which.
    func testConcordChoosesOpenBLASKernelsUnlessTheEnvironmentDoes() throws {
        func blas(_ environment: [String: String]) throws -> (core: String, choice: String) {
            let r = try Concord.run(["bench", "--model", "mlp", "--steps", "1", "--warmup", "0", "--batch", "8", "--synthetic"],
                                    environment: environment)
            XCTAssertEqual(r.status, 0, r.output)
            let line = try XCTUnwrap(r.output.split(separator: "\n").last)
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return (json["blas_core"] as? String ?? "", json["blas_choice"] as? String ?? "")
        }
        let expected = CPUFeatures.hasAVX512 ? "SkylakeX" : "Haswell"
        let chosen = try blas(["OPENBLAS_CORETYPE": ""])
        XCTAssertEqual(chosen.core, expected)
        XCTAssertEqual(chosen.choice, "OPENBLAS_CORETYPE=\(expected) (chosen by concord)")
        let given = try blas(["OPENBLAS_CORETYPE": "Sandybridge"])
        XCTAssertEqual(given.core, "Sandybridge")
        XCTAssertEqual(given.choice, "OPENBLAS_CORETYPE=Sandybridge (set by the environment)")
    }

    func testAKernelPinIsAppliedAndABadOneRefused() throws {
        let pinned = try Concord.run(["bench", "--model", "resnet20", "--steps", "1", "--warmup", "0", "--batch", "8", "--synthetic"],
                                     environment: ["CONCORD_KERNELS": "avx2"])
        XCTAssertEqual(pinned.status, 0, pinned.output)
        XCTAssertTrue(pinned.output.contains("\"conv_kernels\":\"avx2\""), pinned.output)
        let bad = try Concord.run(["golden", Concord.goldenDirectory], environment: ["CONCORD_KERNELS": "sse4"])
        XCTAssertEqual(bad.status, 2, bad.output)
        XCTAssertTrue(bad.output.contains("CONCORD_KERNELS 'sse4' is not one of avx2, avx512"), bad.output)
    }
}

/// Locates and runs the `concord` executable built alongside the tests.
enum Concord {
    static var productsDirectory: URL {
        // The test bundle sits in the build products directory, next to the executable.
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent()
        }
        return Bundle.main.bundleURL
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var goldenDirectory: String { repositoryRoot.appendingPathComponent("Tests/ToolsTests/Golden").path }

    struct Result { let status: Int32; let output: String }

    /// Runs `concord args` from the repository root; output is stdout and stderr together.
    static func run(_ args: [String], environment: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = productsDirectory.appendingPathComponent("concord")
        p.arguments = args
        p.currentDirectoryURL = repositoryRoot
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}

/// `concord schedule`: key points on stdout and a plot.
final class ScheduleCommandTests: XCTestCase {
    func testPrintsKeyPointsAndWritesAnSVG() throws {
        let plot = FileManager.default.temporaryDirectory.appendingPathComponent("schedule-\(UUID().uuidString).svg").path
        defer { try? FileManager.default.removeItem(atPath: plot) }
        let r = try Concord.run(["schedule", "configs/fashion-resnet20.yaml", "--ranks", "2", "--plot", plot,
                                 "--set", "schedule.kind=step", "--set", "schedule.step_epochs=5"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("234 iterations per epoch, 3510 in all"), r.output)
        // Warm-up from 0.01 to 0.1 over epoch 1, then ×0.1 every 5 epochs after it.
        for line in ["        0    0.00   0.01 ", "      234    1.00   0.1 ", "     1403    6.00   0.1 ", "     1404    6.00   0.01 ",
                     "     2574   11.00   0.001 "] {
            XCTAssertTrue(r.output.contains(line), "missing '\(line)' in\n\(r.output)")
        }
        let svg = try String(contentsOfFile: plot, encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg") && svg.contains("<polyline"), svg)
        let bad = try Concord.run(["schedule", "configs/fashion-resnet20.yaml", "--set", "optimizer.lr_scales=[\"fc\"]"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.output.contains("optimizer.lr_scales"), bad.output)
    }
}

/// `concord plot`: metrics of runs on stdout and in a picture; a mistake is one line, exit 2.
final class PlotCommandTests: XCTestCase {
    func testPlotsARunsMetricsAndRefusesOneItLacks() throws {
        let dir = try makeTemporaryDirectory(self)
        _ = try writeFile(#"{"epoch":1,"test_loss":0.52,"lr":0.1}"# + "\n" + #"{"epoch":2,"test_loss":0.48,"lr":0.05}"# + "\n",
                          named: "metrics.jsonl", in: dir)
        let svg = dir.appendingPathComponent("loss.svg").path
        let r = try Concord.run(["plot", dir.path, "--metrics", "test_loss,lr", "--out", svg])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("test_loss 0.48 at epoch 2, best 0.48 at epoch 2"), r.output)
        XCTAssertTrue(r.output.contains("lr 0.05 at epoch 2"), r.output)
        XCTAssertEqual(try String(contentsOfFile: svg, encoding: .utf8).components(separatedBy: "<polyline").count - 1, 2)
        let lacking = try Concord.run(["plot", dir.path, "--metrics", "knn_acc", "--out", svg])
        XCTAssertEqual(lacking.status, 2, lacking.output)
        XCTAssertTrue(lacking.output.contains("has 'knn_acc'; choose one of: lr, test_loss"), lacking.output)
        // Without --metrics: the usual ones the run has (here test_loss), into test_loss.svg.
        let defaults = try Concord.run(["plot", dir.path, "--out", svg])
        XCTAssertEqual(defaults.status, 0, defaults.output)
        XCTAssertFalse(defaults.output.contains("lr "), defaults.output)
    }
}
