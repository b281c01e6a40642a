import Datasets
import Persistence
import Foundation
import TestSupport
import XCTest

/// SimCLR and MoCo v3 runs for real, at small size: two ranks against one process (with
/// SyncBatchNorm exactly; per-rank statistics visibly not), a kill under `launch/supervise`
/// against an uninterrupted run, and the linear probe on their trunks.
final class SelfSupervisedTrainingTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("concord-ssl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let scratch { try? FileManager.default.removeItem(at: scratch) } }

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
    /// checkpoint, and it ends with the uninterrupted run's networks (the momentum encoder
    /// too), optimizer state and metrics.
    func testMoCoV3KilledAndResumedUnderSuperviseEqualsAnUninterruptedRun() throws {
        try XCTSkipUnless(MPIRun.isAvailable, "mpirun is not installed; launch/setup installs openmpi-bin")
        let run = ["train"] + mocov3 + ["--set", "knn.every=0"]
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
        XCTAssertNotNil(a["model.momentum_encoder.head.6.weight"])
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
