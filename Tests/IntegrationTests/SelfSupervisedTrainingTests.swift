import Datasets
import Persistence
import Foundation
import TestSupport
import XCTest

/// SimCLR and MoCo v3 runs for real, at small size: two ranks against one process (with
/// SyncBatchNorm exactly; per-rank statistics visibly not), a kill under `launch/supervise`
/// against an uninterrupted run for each, and the linear probe on their trunks.
final class SelfSupervisedTrainingTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws { scratch = try makeTemporaryDirectory(self) }

    private func dir(_ name: String) -> String { scratch.appendingPathComponent(name).path }
    private var binary: String { Concord.productsDirectory.appendingPathComponent("concord").path }

    /// Views that are the image itself: augmentation streams are per rank, so only
    /// unaugmented views can match one process exactly.
    private let plainViews = ["--set", "views.crop_min_scale=1", "--set", "views.flip_p=0", "--set", "views.jitter_p=0",
                              "--set", "views.blur_p=0", "--set", "knn.every=0"]
    private let simclr = ["configs/simclr-fashion.yaml", "--set", "model.width=8"]
    private let mocov3 = ["configs/moco-v3-vit-fashion.yaml", "--set", "model.depth=2", "--set", "model.dim=32", "--set", "model.heads=2",
                          "--set", "mocov3.mlp_dim=64", "--set", "mocov3.dim=32"]

    private func steps(_ n: Int, batch: Int, dir name: String) -> [String] {
        ["--set", "train.iterations=\(n)", "--set", "train.batch_size=\(batch)", "--set", "run.progress=none",
         "--set", "checkpoint.every_iterations=2", "--run-dir", dir(name)]
    }

    /// Every float tensor of a run's final checkpoint (model, momentum encoder, optimizer state).
    private func finalTensors(_ name: String) throws -> [String: [Float]] {
        let file = try CheckpointFile(contentsOf: dir(name) + "/checkpoints/final.ckpt")
        return Dictionary(uniqueKeysWithValues: try file.entries.filter { $0.dtype == .f32 }.map { ($0.name, try file.floats($0.name)) })
    }

    /// One process × 32 and two ranks × 16 (SyncBatchNorm, then per-rank statistics).
    private func assertTwoRanksMatchOneProcess(_ config: [String], iterations: Int) throws {
        try XCTSkipUnless(MPIRun.isAvailable, "mpirun is not installed; launch/setup installs openmpi-bin")
        let one = try Concord.run(["train"] + config + plainViews + steps(iterations, batch: 32, dir: "one"))
        XCTAssertEqual(one.status, 0, one.output)
        let two = try MPIRun.run(ranks: 2, ["train"] + config + plainViews + ["--set", "distributed.bucket_cap_mb=0.05"]
                                 + steps(iterations, batch: 16, dir: "two"))
        XCTAssertEqual(two.status, 0, two.output)
        let reference = try finalTensors("one"), split = try finalTensors("two")
        XCTAssertEqual(Set(reference.keys), Set(split.keys))
        XCTAssertEqual(reference.keys.filter { reference[$0] != split[$0] }.sorted(), [], "tensors whose bits differ")
        let method = config[0].contains("simclr") ? "simclr" : "mocov3"
        let local = try MPIRun.run(ranks: 2, ["train"] + config + plainViews + ["--set", "\(method).batch_norm=local"]
                                   + steps(iterations, batch: 16, dir: "local"))
        XCTAssertEqual(local.status, 0, local.output)
        let perRank = try finalTensors("local")
        XCTAssertFalse(reference.keys.filter { reference[$0] != perRank[$0] }.isEmpty, "per-rank batch norm should differ")
    }

    /// A key the method would ignore is refused, naming the one it reads instead.
    func testTheSupervisedSyncBatchNormKeyIsRefusedNamingTheMethodsOwn() throws {
        for (config, own) in [(simclr, "simclr.batch_norm"), (mocov3, "mocov3.batch_norm")] {
            let run = try Concord.run(["train"] + config + ["--set", "distributed.sync_batch_norm=true"] + steps(1, batch: 16, dir: own))
            XCTAssertEqual(run.status, 2, run.output)
            XCTAssertTrue(run.output.contains("batch norm is \(own)"), run.output)
        }
    }

    /// SimCLR: the embeddings of every rank gathered in global order, NT-Xent over all of them
    /// on every rank, each rank's own rows' gradient handed back, SyncBatchNorm in the
    /// encoder: 2 ranks × 16 give one process × 32's bits.
    func testTwoRanksTrainSimCLRExactlyLikeOneProcess() throws {
        try assertTwoRanksMatchOneProcess(simclr, iterations: 6)
    }

    /// MoCo v3 on a ViT: the keys of every rank gathered in global order as the negatives,
    /// image i's positive its own key, SyncBatchNorm in the projector and predictor: 2 ranks
    /// × 16 give one process × 32's bits — the momentum encoder's too.
    func testTwoRanksTrainMoCoV3ExactlyLikeOneProcess() throws {
        try assertTwoRanksMatchOneProcess(mocov3, iterations: 10)
    }

    /// One rank of two killed after a step; `launch/supervise` restarts the job from its last
    /// checkpoint, and it ends with the uninterrupted run's networks (MoCo v3's momentum
    /// encoder too), optimizer state and metrics.
    func testMoCoV3KilledAndResumedUnderSuperviseEqualsAnUninterruptedRun() throws {
        try assertKilledAndResumedEqualsUninterrupted(mocov3, holding: "model.momentum_encoder.head.6.weight")
    }

    /// The same for SimCLR: the gather and SyncBatchNorm start again where they stopped.
    func testSimCLRKilledAndResumedUnderSuperviseEqualsAnUninterruptedRun() throws {
        try assertKilledAndResumedEqualsUninterrupted(simclr, holding: "model.fc.2.weight")
    }

    private func assertKilledAndResumedEqualsUninterrupted(_ config: [String], holding tensor: String) throws {
        try XCTSkipUnless(MPIRun.isAvailable, "mpirun is not installed; launch/setup installs openmpi-bin")
        let run = ["train"] + config + ["--set", "knn.every=0"]
        let reference = try MPIRun.run(ranks: 2, run + steps(8, batch: 16, dir: "reference"))
        XCTAssertEqual(reference.status, 0, reference.output)
        let supervise = Concord.repositoryRoot.appendingPathComponent("launch/supervise").path
        let mpirun = ["/usr/bin/env", "mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none", "-x", "CONCORD_FAULT", binary]
        let r = try MPIRun.execute(supervise, ["--max-restarts", "2", "--backoff", "0.1", "--"] + mpirun + run + steps(8, batch: 16, dir: "killed"),
                                   environment: ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "PMIX_MCA_gds": "hash",
                                                 "OPENBLAS_NUM_THREADS": "1", "CONCORD_FAULT": "kill-after-step=5@rank=1"],
                                   directory: Concord.repositoryRoot, timeout: 300)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("killed after step 5"), r.output)
        XCTAssertTrue(r.output.contains("restarting in"), r.output)
        let (a, b) = (try finalTensors("reference"), try finalTensors("killed"))
        XCTAssertNotNil(a[tensor], a.keys.sorted().description)
        XCTAssertEqual(a.keys.filter { a[$0] != b[$0] }.sorted(), [], "tensors whose bits differ")
        let metrics = try ["reference", "killed"].map { name in
            try String(contentsOfFile: dir(name) + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { line in
                var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                for key in ["epoch_s", "eval_s", "images_per_s", "peak_rss_mib"] { object.removeValue(forKey: key) }
                return object as NSDictionary
            }
        }
        XCTAssertEqual(metrics[0], metrics[1])
    }

    /// The probe reads each method's own trunk from its checkpoint (and refuses another
    /// method's), a ViT's class token included.
    func testTheProbeReadsEachMethodsTrunk() throws {
        let small = ["--set", "data.path=" + (try smallFashionMNIST(train: 600, test: 200, in: dir("fashion-mnist-small"))), "--set", "probe.epochs=2",
                     "--set", "probe.held_out=0", "--set", "probe.lrs=[0.1]", "--set", "train.batch_size=16"]
        for (name, config, features) in [("simclr", simclr, 32), ("mocov3", mocov3, 32)] {
            let trained = try Concord.run(["train"] + config + ["--set", "knn.every=0"] + steps(2, batch: 16, dir: name))
            XCTAssertEqual(trained.status, 0, trained.output)
            let probe = try Concord.run(["probe"] + config + ["--checkpoint", dir(name) + "/checkpoints/final.ckpt",
                                                              "--set", "run.dir=" + dir(name)] + small)
            XCTAssertEqual(probe.status, 0, probe.output)
            XCTAssertTrue(probe.output.contains("\"probe\":\"\(name)\""), probe.output)
            XCTAssertTrue(probe.output.contains("\"features\":\(features)"), probe.output)
        }
        let wrong = try Concord.run(["probe"] + simclr + ["--checkpoint", dir("mocov3") + "/checkpoints/final.ckpt"] + small)
        XCTAssertEqual(wrong.status, 2, wrong.output)
        XCTAssertTrue(wrong.output.contains("holds no simclr encoder"), wrong.output)
    }
}

/// MAE runs for real, at small size: masks drawn by global sample position (two ranks equal
/// one process), a kill under `launch/supervise` against an uninterrupted run, the picture of
/// reconstructions, and the probe on its encoder.
final class MaskedAutoencoderTrainingTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws { scratch = try makeTemporaryDirectory(self) }

    private func dir(_ name: String) -> String { scratch.appendingPathComponent(name).path }
    private var binary: String { Concord.productsDirectory.appendingPathComponent("concord").path }
    private let mae = ["configs/mae-vit-fashion.yaml", "--set", "model.depth=2", "--set", "model.dim=32", "--set", "model.heads=2",
                       "--set", "mae.decoder_dim=16", "--set", "mae.decoder_heads=2", "--set", "mae.decoder_depth=1", "--set", "mae.eval_every=0"]

    private func steps(_ n: Int, batch: Int, dir name: String) -> [String] {
        ["--set", "train.iterations=\(n)", "--set", "train.batch_size=\(batch)", "--set", "run.progress=none",
         "--set", "checkpoint.every_iterations=2", "--run-dir", dir(name)]
    }

    private func finalTensors(_ name: String) throws -> [String: [Float]] {
        let file = try CheckpointFile(contentsOf: dir(name) + "/checkpoints/final.ckpt")
        return Dictionary(uniqueKeysWithValues: try file.entries.filter { $0.dtype == .f32 }.map { ($0.name, try file.floats($0.name)) })
    }

    /// Each image's mask comes from its global position in the batch and the iteration, and
    /// every batch sum is chunked by image: 2 ranks × 16 give one process × 32's bits.
    func testTwoRanksTrainMAEExactlyLikeOneProcess() throws {
        try XCTSkipUnless(MPIRun.isAvailable, "mpirun is not installed; launch/setup installs openmpi-bin")
        let plain = ["--set", "data.augment=false"]
        let one = try Concord.run(["train"] + mae + plain + steps(10, batch: 32, dir: "one"))
        XCTAssertEqual(one.status, 0, one.output)
        let two = try MPIRun.run(ranks: 2, ["train"] + mae + plain + ["--set", "distributed.bucket_cap_mb=0.05"] + steps(10, batch: 16, dir: "two"))
        XCTAssertEqual(two.status, 0, two.output)
        let (a, b) = (try finalTensors("one"), try finalTensors("two"))
        XCTAssertNotNil(a["model.mask_token"])
        XCTAssertEqual(a.keys.filter { a[$0] != b[$0] }.sorted(), [], "tensors whose bits differ")
    }

    /// One rank of two killed after a step; restarted by `launch/supervise`, the run ends with
    /// the uninterrupted run's weights, optimizer state and metrics.
    func testMAEKilledAndResumedUnderSuperviseEqualsAnUninterruptedRun() throws {
        try XCTSkipUnless(MPIRun.isAvailable, "mpirun is not installed; launch/setup installs openmpi-bin")
        let reference = try MPIRun.run(ranks: 2, ["train"] + mae + steps(8, batch: 16, dir: "reference"))
        XCTAssertEqual(reference.status, 0, reference.output)
        let supervise = Concord.repositoryRoot.appendingPathComponent("launch/supervise").path
        let mpirun = ["/usr/bin/env", "mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none", "-x", "CONCORD_FAULT", binary]
        let r = try MPIRun.execute(supervise, ["--max-restarts", "2", "--backoff", "0.1", "--"] + mpirun + ["train"] + mae + steps(8, batch: 16, dir: "killed"),
                                   environment: ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "PMIX_MCA_gds": "hash",
                                                 "OPENBLAS_NUM_THREADS": "1", "CONCORD_FAULT": "kill-after-step=5@rank=0"],
                                   directory: Concord.repositoryRoot, timeout: 300)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("killed after step 5"), r.output)
        let (a, b) = (try finalTensors("reference"), try finalTensors("killed"))
        XCTAssertEqual(a.keys.filter { a[$0] != b[$0] }.sorted(), [], "tensors whose bits differ")
        func metrics(_ name: String) throws -> [NSDictionary] {
            try String(contentsOfFile: dir(name) + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { line in
                var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                for key in ["epoch_s", "eval_s", "images_per_s", "peak_rss_mib"] { object.removeValue(forKey: key) }
                return object as NSDictionary
            }
        }
        XCTAssertEqual(try metrics("reference"), try metrics("killed"))
    }

    /// An evaluation writes the test loss and reconstructions.png: a real PNG, four columns of
    /// the grid images; the probe then reads the encoder (not the decoder) from the checkpoint.
    func testEvaluationDrawsReconstructionsAndTheProbeReadsTheEncoder() throws {
        let small = try smallFashionMNIST(train: 400, test: 100, in: dir("fashion-mnist-small"))
        let run = try Concord.run(["train"] + mae + ["--set", "data.path=" + small, "--set", "mae.eval_every=1", "--set", "mae.grid_images=3",
                                                     "--set", "train.epochs=1"] + steps(0, batch: 16, dir: "run"))
        XCTAssertEqual(run.status, 0, run.output)
        let metrics = try String(contentsOfFile: dir("run") + "/metrics.jsonl", encoding: .utf8)
        XCTAssertTrue(metrics.contains("\"test_loss\""), metrics)
        XCTAssertFalse(metrics.contains("train_acc"), metrics)
        let png = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir("run") + "/reconstructions.png")))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        func word(_ at: Int) -> Int { png[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        XCTAssertEqual(word(16), 4 * (28 * 2 + 4) + 4, "width: four columns")
        XCTAssertEqual(word(20), 3 * (28 * 2 + 4) + 4, "height: three images")
        let probe = try Concord.run(["probe"] + mae + ["--checkpoint", dir("run") + "/checkpoints/final.ckpt", "--set", "data.path=" + small,
                                                       "--set", "probe.epochs=2", "--set", "probe.held_out=0", "--set", "probe.lrs=[0.1]",
                                                       "--set", "run.dir=" + dir("run")])
        XCTAssertEqual(probe.status, 0, probe.output)
        XCTAssertTrue(probe.output.contains("\"probe\":\"mae\"") && probe.output.contains("\"features\":32"), probe.output)
    }

    /// A config MAE cannot train as asked is refused with one line naming the key, before
    /// any step: no crash, no silent substitute.
    func testConfigsMAECannotTrainAreRefusedNamingTheKey() throws {
        let cases: [([String], String)] = [(["train.accumulation_steps=2"], "set train.accumulation_steps to 1"),
                                            (["model.patch_size=1", "model.depth=1"], "mae.norm_pix_loss standardises each patch"),
                                            (["model.pos_embed=learned"], "set it to sincos"),
                                            (["optimizer.layer_decay=0.75"], "optimizer.layer_decay 0.75 is for supervised training"),
                                            (["optimizer.layer_decay=0"], "must be a number in (0, 1]"),
                                            (["mae.grid_images=100"], "must be an integer <= 64")]
        for (i, (change, expected)) in cases.enumerated() {
            let name = "refused-\(i)"
            let run = try Concord.run(["train"] + mae + change.flatMap { ["--set", $0] } + steps(2, batch: 16, dir: name))
            XCTAssertEqual(run.status, 2, "\(change): \(run.output)")
            XCTAssertTrue(run.output.contains(expected), "\(change): \(run.output)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir(name) + "/checkpoints/final.ckpt"), "\(change)")
        }
    }
}

/// `concord export --encoder` and `concord finetune`: the pre-trained trunk without its
/// projector or decoder, under the network's own names, and supervised training from it.
final class FineTuningTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws { scratch = try makeTemporaryDirectory(self) }

    private func dir(_ name: String) -> String { scratch.appendingPathComponent(name).path }
    private let vit = ["--set", "model.depth=2", "--set", "model.dim=32", "--set", "model.heads=2"]
    private let short = ["--set", "train.iterations=2", "--set", "train.batch_size=16", "--set", "run.progress=none"]

    func testExportedEncodersAndFineTuningFromThem() throws {
        let mae = try Concord.run(["train", "configs/mae-vit-fashion.yaml", "--set", "mae.decoder_dim=16", "--set", "mae.decoder_heads=2",
                                   "--set", "mae.eval_every=0"] + vit + short + ["--run-dir", dir("mae")])
        XCTAssertEqual(mae.status, 0, mae.output)
        let pretrained = dir("mae") + "/checkpoints/final.ckpt"
        let exported = try Concord.run(["export", pretrained, "--to", dir("encoder.safetensors"), "--encoder"])
        XCTAssertEqual(exported.status, 0, exported.output)
        let encoder = try SafeTensors(contentsOf: dir("encoder.safetensors"))
        XCTAssertTrue(encoder.names.contains("blocks.1.mlp.fc2.weight") && encoder.names.contains("cls_token") && encoder.names.contains("pos_embed"))
        XCTAssertFalse(encoder.names.contains { $0.hasPrefix("decoder") || $0 == "mask_token" }, encoder.names.description)

        // lr 1e-30: the fine-tuned trunk is the pre-trained one (to 1e-20), the head new.
        let frozen = ["--set", "optimizer.lr=1e-30", "--set", "optimizer.weight_decay=0", "--set", "model.pos_embed=learned"]
        for (name, source) in [("from-checkpoint", pretrained), ("from-export", dir("encoder.safetensors"))] {
            let run = try Concord.run(["finetune", "configs/fashion-vit.yaml", "--checkpoint", source] + vit + short + frozen + ["--run-dir", dir(name)])
            XCTAssertEqual(run.status, 0, run.output)
            let log = try String(contentsOfFile: dir(name) + "/log.txt", encoding: .utf8)
            XCTAssertTrue(log.contains("fine-tuning from \(source)") && log.contains("new: head.weight, head.bias"), log)
            let tuned = try SafeTensors(contentsOf: dir(name) + "/model.safetensors")
            for tensor in ["blocks.0.attn.qkv.weight", "norm.bias", "pos_embed", "patch_embed.proj.weight"] {
                let (a, b) = (try tuned.tensor(tensor).values, try encoder.tensor(tensor).values)
                XCTAssertLessThan(zip(a, b).map { abs($0 - $1) }.max() ?? 1, 1e-20, "\(name): \(tensor)")
            }
        }

        let wrongShape = try Concord.run(["finetune", "configs/fashion-vit.yaml", "--checkpoint", pretrained] + short + ["--run-dir", dir("wide")])
        XCTAssertEqual(wrongShape.status, 2, wrongShape.output)
        XCTAssertTrue(wrongShape.output.contains("does not fit this config's model"), wrongShape.output)
        let deeper = try Concord.run(["finetune", "configs/fashion-vit.yaml", "--checkpoint", pretrained] + vit + short
                                     + ["--set", "model.depth=3", "--set", "model.pos_embed=learned", "--run-dir", dir("deeper")])
        XCTAssertEqual(deeper.status, 2, deeper.output)
        XCTAssertTrue(deeper.output.contains("the model's 'blocks.2."), deeper.output)
        let notSupervised = try Concord.run(["finetune", "configs/mae-vit-fashion.yaml", "--checkpoint", pretrained] + vit + short)
        XCTAssertEqual(notSupervised.status, 2, notSupervised.output)
        XCTAssertTrue(notSupervised.output.contains("fine-tuning trains with labels"), notSupervised.output)

        let moco = try Concord.run(["train", "configs/moco-v3-vit-fashion.yaml", "--set", "mocov3.mlp_dim=64", "--set", "mocov3.dim=32",
                                    "--set", "knn.every=0"] + vit + short + ["--run-dir", dir("mocov3")])
        XCTAssertEqual(moco.status, 0, moco.output)
        let base = try Concord.run(["export", dir("mocov3") + "/checkpoints/final.ckpt", "--to", dir("base.safetensors"), "--encoder"])
        XCTAssertEqual(base.status, 0, base.output)
        let names = try SafeTensors(contentsOf: dir("base.safetensors")).names
        XCTAssertTrue(names.contains("blocks.0.norm1.weight"), names.description)
        XCTAssertFalse(names.contains { $0.hasPrefix("head.") || $0.contains("momentum") || $0.contains("predictor") }, names.description)
    }
}
