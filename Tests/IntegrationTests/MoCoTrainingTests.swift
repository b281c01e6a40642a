import Persistence
import Training
import Datasets
import Foundation
import TestSupport
import XCTest

/// MoCo v2 runs for real, at small size: shuffle-BN across two ranks against one process with
/// two key groups, exact resume after a kill in the middle of an enqueue, a checkpoint kept
/// across world sizes, and the linear probe.
final class MoCoTrainingTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws { scratch = try makeTemporaryDirectory(self) }

    private func dir(_ name: String) -> String { scratch.appendingPathComponent(name).path }
    private var binary: String { Concord.productsDirectory.appendingPathComponent("concord").path }

    /// A short MoCo run: a queue of 100 (batches do not divide it: the queue wraps around
    /// mid-batch), no kNN monitor, a checkpoint every 2 iterations.
    private func options(_ name: String, iterations: Int, batch: Int) -> [String] {
        ["train", "configs/moco-v2-fashion.yaml", "--set", "train.iterations=\(iterations)", "--set", "train.batch_size=\(batch)",
         "--set", "moco.queue_size=100", "--set", "moco.knn_every=0", "--set", "checkpoint.every_iterations=2",
         "--set", "run.progress=none", "--run-dir", dir(name)]
    }

    /// Views that are the image itself whatever the random draws (full-size crop, no flip,
    /// jitter or blur): the only way ranks with their own augmentation streams can see the
    /// same images as one process.
    private let fixedViews = ["--set", "moco.crop_min_scale=1", "--set", "moco.flip_p=0", "--set", "moco.jitter_p=0",
                              "--set", "moco.blur_p=0"]

    private func checkpoint(_ path: String) throws -> (file: CheckpointFile, state: TrainState?) {
        let file = try CheckpointFile(contentsOf: path)
        return (file, try? TrainState(from: file))
    }

    /// Per-entry differences of two checkpoints (float entries), empty when identical.
    private func differences(_ a: String, _ b: String) throws -> [String] {
        let (x, y) = (try CheckpointFile(contentsOf: a), try CheckpointFile(contentsOf: b))
        XCTAssertEqual(x.entries.map(\.name).sorted(), y.entries.map(\.name).sorted())
        var out: [String] = []
        for entry in x.entries where entry.dtype == .f32 {
            let (u, v) = (try x.floats(entry.name), try y.floats(entry.name))
            let worst = zip(u, v).map { abs($0 - $1) }.max() ?? 0
            if u.count != v.count || worst != 0 { out.append("\(entry.name): max |Δ| \(worst)") }
        }
        return out
    }

    /// Two ranks × 16 with shuffle-BN (and SyncBN in the query encoder, so the query side
    /// matches too) compute exactly the keys of one process × 32 whose key batch is split into
    /// two shuffled groups — same permutation, same groups, same statistics, same queue order —
    /// and the same step up to the InfoNCE products (SGEMM, whose rounding depends on the
    /// batch: 1e-8 after a step). Per-rank key statistics give other keys.
    func testTwoRanksWithShuffleBNTrainLikeOneProcessWithTwoKeyGroups() throws {
        try XCTSkipUnless(MPIRun.isAvailable, "mpirun is not installed; launch/setup installs openmpi-bin")
        let one = try Concord.run(options("one", iterations: 1, batch: 32) + fixedViews + ["--set", "moco.key_groups=2"])
        XCTAssertEqual(one.status, 0, one.output)
        let two = try MPIRun.run(ranks: 2, options("two", iterations: 1, batch: 16) + fixedViews
                                 + ["--set", "distributed.sync_batch_norm=true"])
        XCTAssertEqual(two.status, 0, two.output)
        let (a, b) = (try CheckpointFile(contentsOf: dir("one") + "/checkpoints/final.ckpt"),
                      try CheckpointFile(contentsOf: dir("two") + "/checkpoints/final.ckpt"))
        XCTAssertEqual(try a.floats("model.queue"), try b.floats("model.queue"), "the enqueued keys, bit for bit")
        XCTAssertEqual(a.metadata["queue_ptr"], "32")
        XCTAssertEqual(b.metadata["queue_ptr"], "32")
        for entry in a.entries where entry.name.hasPrefix("model.encoder_") && !entry.name.contains(".running_") {
            let worst = zip(try a.floats(entry.name), try b.floats(entry.name)).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-6, entry.name)
        }
        let local = try MPIRun.run(ranks: 2, options("local", iterations: 1, batch: 16) + fixedViews
                                   + ["--set", "distributed.sync_batch_norm=true", "--set", "moco.key_batch_norm=local"])
        XCTAssertEqual(local.status, 0, local.output)
        XCTAssertNotEqual(try a.floats("model.queue"),
                          try CheckpointFile(contentsOf: dir("local") + "/checkpoints/final.ckpt").floats("model.queue"),
                          "per-rank key statistics give other keys")
    }

    /// One rank killed half-way through enqueuing a step's keys; `launch/supervise` restarts
    /// the job from its last checkpoint and it ends with the uninterrupted run's encoders,
    /// queue, pointer, optimizer state and metrics.
    func testKilledWhileEnqueuingAndResumedUnderSuperviseEqualsAnUninterruptedRun() throws {
        try XCTSkipUnless(MPIRun.isAvailable, "mpirun is not installed; launch/setup installs openmpi-bin")
        let reference = try MPIRun.run(ranks: 2, options("reference", iterations: 8, batch: 16))
        XCTAssertEqual(reference.status, 0, reference.output)
        let supervise = Concord.repositoryRoot.appendingPathComponent("launch/supervise").path
        let mpirun = ["/usr/bin/env", "mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none", "-x", "CONCORD_FAULT", binary]
        let r = try MPIRun.execute(supervise, ["--max-restarts", "2", "--backoff", "0.1", "--"] + mpirun + options("killed", iterations: 8, batch: 16),
                                   environment: ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "PMIX_MCA_gds": "hash",
                                                 "OPENBLAS_NUM_THREADS": "1", "CONCORD_FAULT": "kill-in-enqueue=5@rank=1"],
                                   directory: Concord.repositoryRoot, timeout: 300)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("killed while enqueuing step 5"), r.output)
        XCTAssertTrue(r.output.contains("restarting in"), r.output)
        XCTAssertEqual(try differences(dir("reference") + "/checkpoints/final.ckpt", dir("killed") + "/checkpoints/final.ckpt"), [])
        let pointers = try ["reference", "killed"].map { try checkpoint(dir($0) + "/checkpoints/final.ckpt").file.metadata["queue_ptr"] }
        XCTAssertEqual(pointers[0], String(8 * 32 % 100))
        XCTAssertEqual(pointers[0], pointers[1])
        let metrics = try ["reference", "killed"].map { name in
            try String(contentsOfFile: dir(name) + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { line in
                var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                for key in ["epoch_s", "eval_s", "images_per_s", "peak_rss_mib"] { object.removeValue(forKey: key) }
                return object as NSDictionary
            }
        }
        XCTAssertEqual(metrics[0], metrics[1])
    }

    /// A checkpoint of two ranks continues on one: the queue and its pointer come along.
    func testATwoRankCheckpointKeepsItsQueueOnOneRank() throws {
        try XCTSkipUnless(MPIRun.isAvailable, "mpirun is not installed; launch/setup installs openmpi-bin")
        let two = try MPIRun.run(ranks: 2, options("two", iterations: 4, batch: 16))
        XCTAssertEqual(two.status, 0, two.output)
        let saved = try checkpoint(dir("two") + "/checkpoints/iter-00000002.ckpt")
        let savedPointer = try XCTUnwrap(saved.state?.counters?["queue_ptr"])
        XCTAssertEqual(savedPointer, 2 * 32 % 100)
        let one = try Concord.run(options("one", iterations: 3, batch: 16) + ["--resume", dir("two") + "/checkpoints/iter-00000002.ckpt"])
        XCTAssertEqual(one.status, 0, one.output)
        XCTAssertTrue(one.output.contains("saved on 2 rank(s), now 1: global batch 32 kept"), one.output)
        // One more step of 32 keys: the pointer moves on from the saved one, and the rows it
        // did not write are the saved queue's.
        let final = try checkpoint(dir("one") + "/checkpoints/final.ckpt").file
        XCTAssertEqual(final.metadata["queue_ptr"], String((savedPointer + 32) % 100))
        let (before, after) = (try saved.file.floats("model.queue"), try final.floats("model.queue"))
        let dim = before.count / 100
        let written = Set((0..<32).map { (savedPointer + $0) % 100 })
        for row in 0..<100 where !written.contains(row) {
            XCTAssertEqual(Array(before[(row * dim)..<((row + 1) * dim)]), Array(after[(row * dim)..<((row + 1) * dim)]), "queue row \(row)")
        }
        XCTAssertNotEqual(Array(before[(savedPointer * dim)..<((savedPointer + 1) * dim)]),
                          Array(after[(savedPointer * dim)..<((savedPointer + 1) * dim)]), "the step's keys were enqueued")
    }

    /// The probe's three extractors on a small data set: pixels reach sensible accuracy, a
    /// MoCo checkpoint's trunk and a random trunk give 4 × model.width = 96 features, the learning rate is picked
    /// on held-out images; mistakes are one-line errors.
    func testProbeReportsTestAccuracyForEachExtractorAndRefusesBadInput() throws {
        let small = ["--set", "data.path=" + (try smallFashionMNIST(train: 1000, test: 300, in: dir("fashion-mnist-small"))), "--set", "probe.epochs=2",
                     "--set", "probe.held_out=200"]
        let pixels = try Concord.run(["probe", "configs/moco-v2-fashion.yaml", "--features", "pixels", "--set", "run.dir=" + dir("pixels"),
                                      "--set", "probe.lrs=[0.03]"] + small + ["--set", "probe.epochs=6"])
        XCTAssertEqual(pixels.status, 0, pixels.output)
        let line = try XCTUnwrap(pixels.output.split(separator: "\n").last { $0.hasPrefix("{") })
        let result = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(result["probe"] as? String, "pixels")
        XCTAssertEqual(result["features"] as? Int, 784)
        XCTAssertGreaterThan(try XCTUnwrap(result["test_acc"] as? Double), 0.7, line.description)

        let run = try Concord.run(options("run", iterations: 2, batch: 16))
        XCTAssertEqual(run.status, 0, run.output)
        let trunk = try Concord.run(["probe", "configs/moco-v2-fashion.yaml", "--checkpoint", dir("run") + "/checkpoints/final.ckpt",
                                     "--set", "run.dir=" + dir("run"), "--set", "probe.lrs=[0.3, 0.03]"] + small)
        XCTAssertEqual(trunk.status, 0, trunk.output)
        XCTAssertTrue(trunk.output.contains("\"probe\":\"moco\""), trunk.output)
        XCTAssertTrue(trunk.output.contains("on the 200 held-out images"), trunk.output)
        let logged = try String(contentsOfFile: dir("run") + "/probe.jsonl", encoding: .utf8)
        XCTAssertTrue(logged.contains("\"features\":96"), logged)
        let random = try Concord.run(["probe", "configs/moco-v2-fashion.yaml", "--init", "random", "--set", "run.dir=" + dir("random"),
                                      "--set", "probe.lrs=[0.3]"] + small)
        XCTAssertEqual(random.status, 0, random.output)
        XCTAssertTrue(random.output.contains("\"probe\":\"random\""), random.output)

        let supervised = try Concord.run(["train", "configs/smoke.yaml", "--set", "train.iterations=2", "--set", "run.progress=none",
                                          "--run-dir", dir("smoke")])
        XCTAssertEqual(supervised.status, 0, supervised.output)
        let wrong = try Concord.run(["probe", "configs/moco-v2-fashion.yaml", "--checkpoint", dir("smoke") + "/checkpoints/final.ckpt"] + small)
        XCTAssertEqual(wrong.status, 2, wrong.output)
        XCTAssertTrue(wrong.output.contains("holds no moco encoder"), wrong.output)
        let heldOut = try Concord.run(["probe", "configs/moco-v2-fashion.yaml", "--features", "pixels"] + small + ["--set", "probe.held_out=900"])
        XCTAssertEqual(heldOut.status, 2, heldOut.output)
        XCTAssertTrue(heldOut.output.contains("probe.held_out 900 leaves fewer than"), heldOut.output)
        let missing = try Concord.run(["probe", "configs/moco-v2-fashion.yaml"])
        XCTAssertNotEqual(missing.status, 0, missing.output)
        XCTAssertTrue(missing.output.contains("--checkpoint CKPT is needed"), missing.output)
        let badInit = try Concord.run(["probe", "configs/moco-v2-fashion.yaml", "--init", "zeros"])
        XCTAssertNotEqual(badInit.status, 0, badInit.output)
        XCTAssertTrue(badInit.output.contains("'zeros' is invalid for '--init"), badInit.output)
        XCTAssertTrue(badInit.output.contains("'checkpoint' and 'random'"), "the valid choices are listed: \(badInit.output)")
    }

    /// MoCo needs a CIFAR-style ResNet trunk and whole steps.
    func testMoCoRefusesAnMLPTrunkAndMicroBatches() throws {
        let mlp = try Concord.run(options("mlp", iterations: 1, batch: 16) + ["--set", "model.name=mlp"])
        XCTAssertEqual(mlp.status, 2, mlp.output)
        XCTAssertTrue(mlp.output.contains("train.method moco needs a CIFAR-style ResNet trunk"), mlp.output)
        let micro = try Concord.run(options("micro", iterations: 1, batch: 16) + ["--set", "train.accumulation_steps=2"])
        XCTAssertEqual(micro.status, 2, micro.output)
        XCTAssertTrue(micro.output.contains("set train.accumulation_steps to 1"), micro.output)
    }
}
