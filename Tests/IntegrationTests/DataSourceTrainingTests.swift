import Foundation
import TestSupport
import XCTest

/// The data sources end to end through `concord train`: the same pixels from IDX files and
/// from a NumPy archive train bit-identically, and a colour CIFAR-format data set trains a
/// ResNet and a ViT on two ranks.
final class DataSourceTrainingTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws { scratch = try makeTemporaryDirectory(self) }

    private func dir(_ name: String) -> String { scratch.appendingPathComponent(name).path }

    /// `name`'s final checkpoint against `other`'s: every tensor equal.
    private func assertSameWeights(_ name: String, _ other: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let diff = try Concord.run(["checkpoint", "diff", dir(name) + "/checkpoints/final.ckpt", dir(other) + "/checkpoints/final.ckpt"])
        let differing = diff.output.split(separator: "\n").filter { !$0.hasSuffix("max |Δ| 0") }.joined(separator: "\n")
        XCTAssertEqual(diff.status, 0, differing, file: file, line: line)
    }

    func testTheSamePixelsAsIDXFilesAndAsANumPyArchiveTrainBitIdentically() throws {
        let idx = try smallFashionMNIST(train: 512, test: 128, in: dir("idx"))
        try FileManager.default.createDirectory(atPath: dir("npz"), withIntermediateDirectories: true)
        for (split, prefix) in [("train", "train"), ("test", "t10k")] {
            let images = Array(try Data(contentsOf: URL(fileURLWithPath: idx + "/\(prefix)-images-idx3-ubyte")).dropFirst(16))
            let labels = Array(try Data(contentsOf: URL(fileURLWithPath: idx + "/\(prefix)-labels-idx1-ubyte")).dropFirst(8))
            let wide: [UInt8] = labels.flatMap { [$0, 0, 0, 0, 0, 0, 0, 0] }   // int64 little-endian
            try DataFiles.write(DataFiles.npz([("images", DataFiles.npy(descr: "|u1", shape: [labels.count, 28, 28], data: images)),
                                               ("labels", DataFiles.npy(descr: "<i8", shape: [labels.count], data: wide))]),
                                to: dir("npz") + "/\(split).npz")
        }
        // 100 steps of 64 (eight per epoch), the MLP with augmentation on.
        let common = ["train", "configs/smoke.yaml", "--set", "train.epochs=13", "--set", "train.iterations=100", "--set", "data.augment=true",
                      "--set", "run.progress=none"]
        let a = try Concord.run(common + ["--set", "data.path=\(idx)", "--run-dir", dir("from-idx")])
        XCTAssertEqual(a.status, 0, a.output)
        let b = try Concord.run(common + ["--set", "data.format=numpy", "--set", "data.path=\(dir("npz"))", "--set", "data.mean=[0.2860]",
                                          "--set", "data.std=[0.3530]", "--run-dir", dir("from-npz")])
        XCTAssertEqual(b.status, 0, b.output)
        try assertSameWeights("from-idx", "from-npz")
        // Without data.mean / data.std the archive's own statistics are measured and logged.
        let c = try Concord.run(common + ["--set", "data.format=numpy", "--set", "data.path=\(dir("npz"))", "--set", "train.iterations=8",
                                          "--run-dir", dir("measured")])
        XCTAssertEqual(c.status, 0, c.output)
        let log = try String(contentsOfFile: dir("measured") + "/log.txt", encoding: .utf8)
        XCTAssertTrue(log.contains("data: numpy, 512 training and 128 test images of 1×28×28 in 10 classes; normalised with mean [0.2"), log)
    }

    /// 3×32×32 images whose class is their colour (class k: red 25k, green 255 − 25k, blue
    /// 128, plus noise), as CIFAR-10 binary batches.
    private func colourCIFAR(in directory: String, perBatch: Int, test: Int) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var rng = SystemRandomNumberGenerator()
        func batch(_ n: Int) -> [UInt8] {
            let labels = (0..<n).map { $0 % 10 }
            return DataFiles.cifar10Batch(labels: labels) { i in
                let k = labels[i]
                return [25 * k, 255 - 25 * k, 128].flatMap { level in (0..<1024).map { _ in UInt8(clamping: level + Int.random(in: -20...20, using: &rng)) } }
            }
        }
        for b in 1...5 { try DataFiles.write(batch(perBatch), to: directory + "/data_batch_\(b).bin") }
        try DataFiles.write(batch(test), to: directory + "/test_batch.bin")
    }

    func testAColourCIFARDataSetTrainsAResNetAndAViTOnTwoRanks() throws {
        try XCTSkipUnless(MPIRun.isAvailable, "mpirun is not installed; launch/setup installs openmpi-bin")
        try colourCIFAR(in: dir("cifar"), perBatch: 64, test: 64)
        for (model, config) in [("resnet", "configs/fashion-resnet20.yaml"), ("vit", "configs/fashion-vit.yaml")] {
            let r = try MPIRun.run(ranks: 2, ["train", config, "--set", "data.format=cifar", "--set", "data.path=\(dir("cifar"))",
                                             "--set", "train.epochs=1", "--set", "train.batch_size=16", "--set", "schedule.warmup_epochs=0",
                                             "--set", "run.progress=none", "--run-dir", dir(model)])
            XCTAssertEqual(r.status, 0, r.output)
            let metrics = try String(contentsOfFile: dir(model) + "/metrics.jsonl", encoding: .utf8)
            let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(metrics.utf8)) as? [String: Any])
            XCTAssertNotNil(record["test_acc"], metrics)
            XCTAssertEqual(record["iteration"] as? Int, 10, "320 images, 2 ranks × 16")
            let inspect = try Concord.run(["checkpoint", "inspect", dir(model) + "/checkpoints/final.ckpt"])
            XCTAssertTrue(inspect.output.contains("3×32×32"), inspect.output)
            let log = try String(contentsOfFile: dir(model) + "/log.txt", encoding: .utf8)
            XCTAssertTrue(log.contains("data: cifar, 320 training and 64 test images of 3×32×32 in 10 classes"), log)
        }
    }
}
