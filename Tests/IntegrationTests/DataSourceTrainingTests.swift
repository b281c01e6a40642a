import Datasets
import Foundation
import TestSupport
import XCTest

/// The data sources end to end through `concord train`: the same pixels from IDX files, a
/// NumPy archive and a PNG folder train bit-identically, and colour CIFAR-format and folder
/// data sets train a ResNet and a ViT on two ranks and resume exactly after a kill.
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

    func testTheSamePixelsAsIDXFilesANumPyArchiveAndAPNGFolderTrainBitIdentically() throws {
        // All three in the folder's order: by class, then file name.
        let idx = try smallFashionMNIST(train: 512, test: 128, in: dir("idx"), byClass: true)
        try FileManager.default.createDirectory(atPath: dir("npz"), withIntermediateDirectories: true)
        for (split, prefix) in [("train", "train"), ("test", "t10k")] {
            let images = Array(try Data(contentsOf: URL(fileURLWithPath: idx + "/\(prefix)-images-idx3-ubyte")).dropFirst(16))
            let labels = Array(try Data(contentsOf: URL(fileURLWithPath: idx + "/\(prefix)-labels-idx1-ubyte")).dropFirst(8))
            let wide: [UInt8] = labels.flatMap { [$0, 0, 0, 0, 0, 0, 0, 0] }   // int64 little-endian
            try DataFiles.write(DataFiles.npz([("images", DataFiles.npy(descr: "|u1", shape: [labels.count, 28, 28], data: images)),
                                               ("labels", DataFiles.npy(descr: "<i8", shape: [labels.count], data: wide))]),
                                to: dir("npz") + "/\(split).npz")
            // png/<split>/class<k>/<index>.png: the classes sort in label order, the files in index order.
            for (i, label) in labels.enumerated() {
                let folder = dir("png") + "/\(split)/class\(label)"
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                var png = PNGImage(width: 28, height: 28)
                png.pixels = Array(images[(i * 784)..<((i + 1) * 784)])
                try DataFiles.write(png.encoded(), to: folder + "/" + String(format: "%05d.png", i))
            }
        }
        // 100 steps of 64 (eight per epoch), the MLP with augmentation on.
        let common = ["train", "configs/smoke.yaml", "--set", "train.epochs=13", "--set", "train.iterations=100", "--set", "data.augment=true",
                      "--set", "run.progress=none"]
        let explicit = ["--set", "data.mean=[0.2860]", "--set", "data.std=[0.3530]"]
        let a = try Concord.run(common + ["--set", "data.path=\(idx)", "--run-dir", dir("from-idx")])
        XCTAssertEqual(a.status, 0, a.output)
        let b = try Concord.run(common + explicit + ["--set", "data.format=numpy", "--set", "data.path=\(dir("npz"))", "--run-dir", dir("from-npz")])
        XCTAssertEqual(b.status, 0, b.output)
        let c = try Concord.run(common + explicit + ["--set", "data.format=folder", "--set", "data.path=\(dir("png"))", "--run-dir", dir("from-png")])
        XCTAssertEqual(c.status, 0, c.output)
        try assertSameWeights("from-idx", "from-npz")
        try assertSameWeights("from-idx", "from-png")
        let pngLog = try String(contentsOfFile: dir("from-png") + "/log.txt", encoding: .utf8)
        XCTAssertTrue(pngLog.contains("data: folder, 512 training and 128 test images of 1×28×28 in 10 classes"), pngLog)
        XCTAssertTrue(pngLog.contains("decoded into the cache"), pngLog)
        // Without data.mean / data.std the archive's own statistics are measured and logged.
        let d = try Concord.run(common + ["--set", "data.format=numpy", "--set", "data.path=\(dir("npz"))", "--set", "train.iterations=8",
                                          "--run-dir", dir("measured")])
        XCTAssertEqual(d.status, 0, d.output)
        let log = try String(contentsOfFile: dir("measured") + "/log.txt", encoding: .utf8)
        XCTAssertTrue(log.contains("data: numpy, 512 training and 128 test images of 1×28×28 in 10 classes; normalised with mean [0.2"), log)
    }

    /// A damaged image stops `concord train` with one line naming it and status 2; asked to,
    /// the run leaves it out and says so.
    func testADamagedImageStopsTheRunNamingItUnlessSkippingIsAskedFor() throws {
        var rng = SystemRandomNumberGenerator()
        for split in ["train", "test"] {
            for i in 0..<40 {
                let folder = dir("bad") + "/\(split)/class\(i % 2)"
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                var png = PNGImage(width: 28, height: 28)
                png.pixels = (0..<784).map { _ in UInt8.random(in: 0...255, using: &rng) }
                try DataFiles.write(png.encoded(), to: folder + "/\(i).png")
            }
        }
        let damaged = dir("bad") + "/train/class1/7.png"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: damaged))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: damaged))
        let run = ["train", "configs/smoke.yaml", "--set", "data.format=folder", "--set", "data.path=\(dir("bad"))", "--set", "train.iterations=2",
                   "--set", "train.batch_size=8", "--set", "run.progress=none"]
        let stopped = try Concord.run(run + ["--run-dir", dir("bad-run")])
        XCTAssertEqual(stopped.status, 2, stopped.output)
        let errors = stopped.output.split(separator: "\n").filter { $0.hasPrefix("Error:") }
        XCTAssertEqual(errors.count, 1, stopped.output)
        XCTAssertTrue(errors.first?.contains("image '\(damaged)': a truncated or damaged PNG") == true, stopped.output)
        let skipped = try Concord.run(run + ["--set", "data.skip_bad_images=true", "--run-dir", dir("skip-run")])
        XCTAssertEqual(skipped.status, 0, skipped.output)
        let log = try String(contentsOfFile: dir("skip-run") + "/log.txt", encoding: .utf8)
        XCTAssertTrue(log.contains("data: folder, 39 training and 40 test images"), log)
        XCTAssertTrue(log.contains("1 image(s) of '\(dir("bad"))/train' skipped (data.skip_bad_images); the first: image '\(damaged)'"), log)
    }

    /// 3×32×32 images whose class is their colour (class k: red 25k, green 255 − 25k, blue
    /// 128, plus noise), planar: `count` of them, labels cycling through the ten classes.
    private func colourImages(_ count: Int, rng: inout some RandomNumberGenerator) -> (labels: [Int], pixels: [[UInt8]]) {
        let labels = (0..<count).map { $0 % 10 }
        let pixels = labels.map { k in
            [25 * k, 255 - 25 * k, 128].flatMap { level in (0..<1024).map { _ in UInt8(clamping: level + Int.random(in: -20...20, using: &rng)) } }
        }
        return (labels, pixels)
    }

    /// The colour set as CIFAR-10 binary batches (five of `perBatch`, a test batch of `test`).
    private func colourCIFAR(in directory: String, perBatch: Int, test: Int) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var rng = SystemRandomNumberGenerator()
        func batch(_ n: Int) -> [UInt8] {
            let set = colourImages(n, rng: &rng)
            return DataFiles.cifar10Batch(labels: set.labels) { set.pixels[$0] }
        }
        for b in 1...5 { try DataFiles.write(batch(perBatch), to: directory + "/data_batch_\(b).bin") }
        try DataFiles.write(batch(test), to: directory + "/test_batch.bin")
    }

    /// The colour set as RGB PNG files in `directory/{train,test}/<class>/`.
    private func colourFolder(in directory: String, train: Int, test: Int) throws {
        var rng = SystemRandomNumberGenerator()
        for (split, count) in [("train", train), ("test", test)] {
            let set = colourImages(count, rng: &rng)
            for (i, planes) in set.pixels.enumerated() {
                let folder = "\(directory)/\(split)/class\(set.labels[i])"
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                var png = PNGImage(width: 32, height: 32, channels: 3)
                png.pixels = (0..<(3 * 1024)).map { planes[($0 % 3) * 1024 + $0 / 3] }   // planar → interleaved
                try DataFiles.write(png.encoded(), to: folder + "/" + String(format: "%04d.png", i))
            }
        }
    }

    /// ResNet-20 (narrowed) and a small ViT on two ranks, on CIFAR-format and folder-format
    /// colour data: each run killed on one rank after step 5 and restarted by
    /// `launch/supervise` ends with the uninterrupted run's weights, bit for bit, and records.
    func testColourCIFARAndFolderDataTrainAResNetAndAViTOnTwoRanksAndResumeExactlyAfterAKill() throws {
        try XCTSkipUnless(MPIRun.isAvailable, "mpirun is not installed; launch/setup installs openmpi-bin")
        try colourCIFAR(in: dir("cifar"), perBatch: 64, test: 64)
        try colourFolder(in: dir("folder"), train: 320, test: 64)
        let models = [("resnet", ["configs/fashion-resnet20.yaml", "--set", "model.width=8"]),
                      ("vit", ["configs/fashion-vit.yaml", "--set", "model.depth=2", "--set", "model.dim=32", "--set", "model.heads=2"])]
        for format in ["cifar", "folder"] {
            for (model, config) in models {
                let name = "\(format)-\(model)"
                let run = ["train"] + config + ["--set", "data.format=\(format)", "--set", "data.path=\(dir(format))",
                                                "--set", "train.epochs=2", "--set", "train.iterations=12", "--set", "train.batch_size=16",
                                                "--set", "schedule.warmup_epochs=0", "--set", "checkpoint.every_iterations=2",
                                                "--set", "run.progress=none"]
                let reference = try MPIRun.run(ranks: 2, run + ["--run-dir", dir(name)])
                XCTAssertEqual(reference.status, 0, reference.output)
                let killed = try MPIRun.supervised(ranks: 2, run + ["--run-dir", dir(name + "-killed")], fault: "kill-after-step=5@rank=1")
                XCTAssertEqual(killed.status, 0, killed.output)
                XCTAssertTrue(killed.output.contains("killed after step 5") && killed.output.contains("restarting in"), killed.output)
                try assertSameWeights(name, name + "-killed")
                let records = try [name, name + "-killed"].map { run in
                    try String(contentsOfFile: dir(run) + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { line in
                        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                        for key in ["epoch_s", "eval_s", "images_per_s", "peak_rss_mib"] { object.removeValue(forKey: key) }
                        return object as NSDictionary
                    }
                }
                XCTAssertEqual(records[0], records[1], name)
                XCTAssertEqual(records[0].first?["iteration"] as? Int, 10, "320 images, 2 ranks × 16")
                XCTAssertNotNil(records[0].first?["test_acc"], name)
                let inspect = try Concord.run(["checkpoint", "inspect", dir(name) + "/checkpoints/final.ckpt"])
                XCTAssertTrue(inspect.output.contains("3×32×32"), inspect.output)
                let log = try String(contentsOfFile: dir(name) + "/log.txt", encoding: .utf8)
                XCTAssertTrue(log.contains("data: \(format), 320 training and 64 test images of 3×32×32 in 10 classes"), log)
                XCTAssertTrue(log.contains("decoded into the cache"), log)
                let resumed = try String(contentsOfFile: dir(name + "-killed") + "/log.txt", encoding: .utf8)
                XCTAssertTrue(resumed.contains("mapped from the cache"), "the restarted job maps what the first one decoded")
            }
        }
    }
}
