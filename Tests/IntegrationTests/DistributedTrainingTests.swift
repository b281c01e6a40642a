import Persistence
import Foundation
import TestSupport
import XCTest

/// Data-parallel training for real: `mpirun -np 2` on the built tool, against one process.
final class DistributedTrainingTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless(MPIRun.isAvailable, "mpirun is not installed; launch/setup installs openmpi-bin")
        scratch = try makeTemporaryDirectory(self)
    }

    /// Options for a short run without augmentation (augmentation streams are per rank, so
    /// only the unaugmented data path can match one process exactly).
    private func steps(_ n: Int, batch: Int, dir: String) -> [String] {
        ["--set", "train.iterations=\(n)", "--set", "train.batch_size=\(batch)", "--set", "data.augment=false",
         "--set", "run.progress=none", "--set", "train.eval_every=0", "--set", "run.dir=" + scratch.appendingPathComponent(dir).path]
    }

    private func weights(_ dir: String) throws -> [String: [Float]] {
        let file = try SafeTensors(contentsOf: scratch.appendingPathComponent(dir + "/model.safetensors").path)
        return Dictionary(uniqueKeysWithValues: try file.names.map { ($0, try file.tensor($0).values) })
    }

    private func maxDifference(_ a: [String: [Float]], _ b: [String: [Float]]) -> Float {
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        var worst: Float = 0
        for (name, x) in a { if let y = b[name] { for i in x.indices { worst = max(worst, abs(x[i] - y[i])) } } }
        return worst
    }

    func testTwoRanksOfHalfTheBatchTrainLikeOneProcessWithoutBatchNorm() throws {
        let one = try Concord.run(["train", "configs/smoke.yaml"] + steps(20, batch: 128, dir: "one"))
        XCTAssertEqual(one.status, 0, one.output)
        // A small bucket cap: several buckets, launched in order during backward.
        let two = try MPIRun.run(ranks: 2, ["train", "configs/smoke.yaml", "--set", "distributed.bucket_cap_mb=0.05"]
                                 + steps(20, batch: 64, dir: "two"))
        XCTAssertEqual(two.status, 0, two.output)
        let difference = maxDifference(try weights("one"), try weights("two"))
        XCTAssertLessThanOrEqual(difference, 1e-5, "max |Δw| after 20 steps")
        XCTAssertTrue(try String(contentsOf: scratch.appendingPathComponent("two/log.txt"), encoding: .utf8)
            .contains("2 rank(s)"))
    }

    /// Gradients of two micro-batches per rank, reduced once, equal one whole batch's.
    func testGradientAccumulationReducesOnceForTheWholeBatch() throws {
        let one = try Concord.run(["train", "configs/smoke.yaml"] + steps(10, batch: 128, dir: "one"))
        XCTAssertEqual(one.status, 0, one.output)
        let accumulated = try MPIRun.run(ranks: 2, ["train", "configs/smoke.yaml", "--set", "train.accumulation_steps=2"]
                                         + steps(10, batch: 64, dir: "accumulated"))
        XCTAssertEqual(accumulated.status, 0, accumulated.output)
        XCTAssertLessThanOrEqual(maxDifference(try weights("one"), try weights("accumulated")), 1e-5)
        let log = try String(contentsOf: scratch.appendingPathComponent("accumulated/log.txt"), encoding: .utf8)
        XCTAssertTrue(log.contains("10 iterations, 10 gradient reductions"), log)
    }

    func testRepeatedRunsAreBitIdentical() throws {
        for dir in ["a", "b"] {
            let r = try MPIRun.run(ranks: 2, ["train", "configs/smoke.yaml", "--set", "distributed.bucket_cap_mb=0.05"]
                                   + steps(30, batch: 32, dir: dir))
            XCTAssertEqual(r.status, 0, r.output)
        }
        XCTAssertEqual(try weights("a"), try weights("b"))
    }

    /// SyncBatchNorm: statistics over both ranks' halves equal those of the whole batch, and
    /// every batch reduction is summed per chunk of the global batch in a fixed tree
    /// (`BatchReduction`), so 10 steps of 2 ranks × 16 give the same bits as one process × 32
    /// — ResNet-20 training is chaotic enough in float32 that any other summation order drifts
    /// past 1e-5 within those steps. Per-rank batch norm (the default) visibly differs.
    func testSyncBatchNormTrainsResNet20ExactlyLikeOneProcess() throws {
        let config = "configs/fashion-resnet20.yaml"
        let one = try Concord.run(["train", config] + steps(10, batch: 32, dir: "one"))
        XCTAssertEqual(one.status, 0, one.output)
        let synced = try MPIRun.run(ranks: 2, ["train", config, "--set", "distributed.sync_batch_norm=true"] + steps(10, batch: 16, dir: "sync"))
        XCTAssertEqual(synced.status, 0, synced.output)
        let local = try MPIRun.run(ranks: 2, ["train", config] + steps(1, batch: 16, dir: "local"))
        XCTAssertEqual(local.status, 0, local.output)
        let oneStep = try Concord.run(["train", config] + steps(1, batch: 32, dir: "one-step"))
        XCTAssertEqual(oneStep.status, 0, oneStep.output)
        let reference = try weights("one")
        XCTAssertLessThanOrEqual(maxDifference(reference, try weights("sync")), 1e-5, "max |Δw| after 10 steps")
        XCTAssertEqual(reference, try weights("sync"), "bit-identical weights and statistics")
        XCTAssertGreaterThan(maxDifference(try weights("one-step"), try weights("local")), 1e-4, "per-rank batch norm should differ")
    }

    /// No batch statistics, but every gradient summed over the batch (Linear layers on token
    /// rows, LayerNorm's affine, the class token, the position table, the patch embedding) is
    /// summed per image chunk, and drop-path draws by global sample position: 2 ranks × 16
    /// give one process × 32's bits.
    func testTwoRanksTrainAVisionTransformerExactlyLikeOneProcess() throws {
        let config = ["configs/fashion-vit.yaml", "--set", "model.depth=2", "--set", "model.dim=48", "--set", "model.drop_path=0.3"]
        let one = try Concord.run(["train"] + config + steps(20, batch: 32, dir: "one"))
        XCTAssertEqual(one.status, 0, one.output)
        let two = try MPIRun.run(ranks: 2, ["train"] + config + ["--set", "distributed.bucket_cap_mb=0.05"] + steps(20, batch: 16, dir: "two"))
        XCTAssertEqual(two.status, 0, two.output)
        let reference = try weights("one"), split = try weights("two")
        XCTAssertLessThanOrEqual(maxDifference(reference, split), 1e-5, "max |Δw| after 20 steps")
        XCTAssertEqual(reference.keys.filter { reference[$0] != split[$0] }.sorted(), [], "tensors whose bits differ")
        XCTAssertNotNil(reference["blocks.1.attn.qkv.weight"])
    }

    func testARankThatSkipsAStepIsAClearErrorNotAHang() throws {
        let r = try MPIRun.run(ranks: 2, ["train", "configs/smoke.yaml"] + steps(20, batch: 32, dir: "skip"),
                               environment: ["CONCORD_FAULT": "skip-step=5@rank=1"], timeout: 60)
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertFalse(r.timedOut, "the run hung instead of failing")
        XCTAssertTrue(r.output.contains("out of step at step 5"), r.output)
        XCTAssertTrue(r.output.contains("rank 1 at step 6"), r.output)
    }

    /// The same with SyncBatchNorm, whose forward pass itself communicates.
    func testASkippedStepUnderSyncBatchNormIsAClearErrorNotAHang() throws {
        let r = try MPIRun.run(ranks: 2, ["train", "configs/fashion-resnet20.yaml", "--set", "distributed.sync_batch_norm=true"]
                               + steps(4, batch: 8, dir: "skip-sync"),
                               environment: ["CONCORD_FAULT": "skip-step=1@rank=0"], timeout: 90)
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertFalse(r.timedOut, "the run hung instead of failing")
        XCTAssertTrue(r.output.contains("out of step at step 1"), r.output)
    }

    func testANonFiniteGradientSkipsTheSameStepOnEveryRank() throws {
        let r = try MPIRun.run(ranks: 2, ["train", "configs/smoke.yaml"] + steps(20, batch: 32, dir: "nan"),
                               environment: ["CONCORD_FAULT": "nan-gradient=3@rank=1"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("rank 1: non-finite gradient at step 3"), r.output)
        let log = try String(contentsOf: scratch.appendingPathComponent("nan/log.txt"), encoding: .utf8)
        XCTAssertTrue(log.contains("step 3 skipped on every rank"), log)
        for (name, values) in try weights("nan") { XCTAssertTrue(values.allSatisfy(\.isFinite), name) }

        let strict = try MPIRun.run(ranks: 2, ["train", "configs/smoke.yaml", "--set", "distributed.max_nonfinite_steps=0"]
                                    + steps(20, batch: 32, dir: "strict"),
                                    environment: ["CONCORD_FAULT": "nan-gradient=3@rank=0"])
        XCTAssertNotEqual(strict.status, 0, strict.output)
        XCTAssertTrue(strict.output.contains("distributed.max_nonfinite_steps"), strict.output)
    }

    /// The launcher's environment says 2 processes but this one is alone: never a silent
    /// single-process run.
    func testAProcessThatCannotJoinItsWorldFailsLoudly() throws {
        let r = try Concord.run(["train", "configs/smoke.yaml"] + steps(5, batch: 32, dir: "alone"),
                                environment: ["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "0"])
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("started 2 processes but this one joined a world of 1"), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("alone/metrics.jsonl").path))
    }

    /// Slurm's step says 4 tasks and MPI a world of one (Open MPI 5 under `srun --mpi=pmi2`,
    /// faked here by the environment): each task would train alone, so it stops saying why —
    /// but a one-task step (a command in the batch script itself) runs, and so does an
    /// explicit override.
    func testTasksOfOneSlurmStepThatCannotFormAWorldAreStopped() throws {
        let slurm = ["SLURM_STEP_NUM_TASKS": "4", "SLURM_NTASKS": "4", "SLURM_JOB_ID": "77"]
        let r = try Concord.run(["train", "configs/smoke.yaml"] + steps(2, batch: 32, dir: "separate"), environment: slurm)
        XCTAssertEqual(r.status, 2, r.output)
        let errors = r.output.split(separator: "\n").filter { $0.hasPrefix("Error:") }
        XCTAssertEqual(errors.count, 1, r.output)
        XCTAssertTrue(r.output.contains("Slurm started 4 tasks in this step (SLURM_STEP_NUM_TASKS=4) but MPI sees a world of 1 process"), r.output)
        XCTAssertTrue(r.output.contains("srun --mpi=pmix"), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("separate/metrics.jsonl").path))
        let batchStep = try Concord.run(["train", "configs/smoke.yaml"] + steps(2, batch: 32, dir: "batch-step"),
                                        environment: ["SLURM_STEP_NUM_TASKS": "1", "SLURM_NTASKS": "4", "SLURM_JOB_ID": "77"])
        XCTAssertEqual(batchStep.status, 0, batchStep.output)
        let allowed = try Concord.run(["train", "configs/smoke.yaml"] + steps(2, batch: 32, dir: "allowed"),
                                      environment: slurm.merging(["CONCORD_ALLOW_SEPARATE_TASKS": "1"]) { $1 })
        XCTAssertEqual(allowed.status, 0, allowed.output)
    }

    /// A rank that hangs — looping, or stopped (SIGSTOP) — does not hang the job: the other
    /// rank's collective gives up after `distributed.timeout_s`, names the silent rank and the
    /// step, and the job ends (within the limit + 10 s); under `launch/supervise` it then
    /// resumes from rank 0's last checkpoint to the uninterrupted run's weights.
    func testAHungRankEndsTheJobNamingItAndTheSupervisedJobResumes() throws {
        let run = ["train", "configs/smoke.yaml", "--set", "distributed.timeout_s=3"]
        let reference = try MPIRun.run(ranks: 2, run + steps(12, batch: 32, dir: "reference") + ["--set", "checkpoint.every_iterations=2"])
        XCTAssertEqual(reference.status, 0, reference.output)

        let started = Date()
        let hung = try MPIRun.run(ranks: 2, run + steps(12, batch: 32, dir: "hung") + ["--set", "checkpoint.every_iterations=2"],
                                  environment: ["CONCORD_FAULT": "hang-at-step=6@rank=1"], timeout: 60)
        let seconds = Date().timeIntervalSince(started)
        XCTAssertFalse(hung.timedOut, hung.output)
        XCTAssertEqual(hung.status, 1, hung.output)
        XCTAssertTrue(hung.output.contains("concord: rank 0: step 6: MPI_"), hung.output)
        XCTAssertTrue(hung.output.contains("past distributed.timeout_s 3; silent: rank 1 (busy in step 6, not in the collective)"), hung.output)
        XCTAssertLessThan(seconds, 3 + 10 + 5, "the job ends within the limit + 10 s (plus the 5 steps before the hang)")

        let stopped = try MPIRun.supervised(ranks: 2, run + steps(12, batch: 32, dir: "stopped") + ["--set", "checkpoint.every_iterations=2"],
                                            fault: "stop-at-step=6@rank=1", timeout: 120)
        XCTAssertEqual(stopped.status, 0, stopped.output)
        XCTAssertTrue(stopped.output.contains("concord: rank 0: step 6: MPI_") && stopped.output.contains("silent: rank 1 (no heartbeat"),
                      stopped.output)
        XCTAssertTrue(stopped.output.contains("restarting in"), stopped.output)
        XCTAssertEqual(try weights("reference"), try weights("stopped"))
    }

    /// A rank that cannot see the run directory (a node without the shared storage, faked)
    /// stops the job before training, in one line naming the rank.
    func testARunDirectoryNotSharedWithEveryRankIsRefusedAtStart() throws {
        let r = try MPIRun.run(ranks: 2, ["train", "configs/smoke.yaml"] + steps(5, batch: 32, dir: "unshared"),
                               environment: ["CONCORD_FAULT": "hidden-run-dir=0@rank=1"])
        XCTAssertEqual(r.status, 2, r.output)
        XCTAssertTrue(r.output.contains("is not visible from rank(s) 1 (another node): put it on storage every node shares"), r.output)
        XCTAssertEqual(r.output.components(separatedBy: "is not visible").count, 2, "one line: \(r.output)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("unshared/metrics.jsonl").path))
    }

    func testBenchReportsOnceForAllRanks() throws {
        let r = try MPIRun.run(ranks: 2, ["bench", "--model", "mlp", "--steps", "3", "--warmup", "1", "--batch", "32", "--synthetic"])
        XCTAssertEqual(r.status, 0, r.output)
        let lines = r.output.split(separator: "\n").filter { $0.hasPrefix("{") }
        XCTAssertEqual(lines.count, 1, "one JSON line, from rank 0: \(r.output)")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(lines.first).utf8)) as? [String: Any])
        XCTAssertEqual(json["ranks"] as? Int, 2)
        for key in ["images_per_s", "peak_rss_mib", "compute_ms", "communication_ms", "exposed_communication_ms"] {
            XCTAssertNotNil(json[key], key)
        }
    }
}

/// Runs the built tool under `mpirun`, with a time limit so a hang fails instead of blocking.
enum MPIRun {
    struct Result { let status: Int32; let output: String; let timedOut: Bool }

    static var isAvailable: Bool {
        ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].contains { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func run(ranks: Int, _ args: [String], environment: [String: String] = [:], timeout: TimeInterval = 240,
                    mpirunFlags: [String] = []) throws -> Result {
        var flags = ["-np", String(ranks), "--oversubscribe", "--bind-to", "none"] + mpirunFlags
        for key in environment.keys.sorted() { flags += ["-x", key] }
        let env = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OPENBLAS_NUM_THREADS": "1",
                   "PMIX_MCA_gds": "hash"].merging(environment) { $1 }
        return try execute("/usr/bin/env", ["mpirun"] + flags + [Concord.productsDirectory.appendingPathComponent("concord").path] + args,
                           environment: env, directory: Concord.repositoryRoot, timeout: timeout)
    }

    /// `launch/supervise` restarting `mpirun -np ranks concord args` (up to twice), the fault
    /// `fault` (a `CONCORD_FAULT` value, e.g. "kill-after-step=5@rank=1") injected.
    static func supervised(ranks: Int, _ args: [String], fault: String, timeout: TimeInterval = 300) throws -> Result {
        let supervise = Concord.repositoryRoot.appendingPathComponent("launch/supervise").path
        let mpirun = ["/usr/bin/env", "mpirun", "-np", String(ranks), "--oversubscribe", "--bind-to", "none", "-x", "CONCORD_FAULT",
                      Concord.productsDirectory.appendingPathComponent("concord").path]
        return try execute(supervise, ["--max-restarts", "2", "--backoff", "0.1", "--"] + mpirun + args,
                           environment: ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "PMIX_MCA_gds": "hash",
                                         "OPENBLAS_NUM_THREADS": "1", "CONCORD_FAULT": fault],
                           directory: Concord.repositoryRoot, timeout: timeout)
    }

    /// Runs `executable args` with stdout and stderr together; terminates it after `timeout`.
    static func execute(_ executable: String, _ args: [String], environment: [String: String], directory: URL,
                        timeout: TimeInterval) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        p.currentDirectoryURL = directory
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let finished = DispatchSemaphore(value: 0)
        let output = OutputBox()
        DispatchQueue.global().async { output.data = pipe.fileHandleForReading.readDataToEndOfFile(); finished.signal() }
        var timedOut = false
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            p.terminate()
            // mpirun ends its ranks when terminated; if a rank survives and keeps the pipe open,
            // give up on the rest of the output rather than wait for it.
            _ = finished.wait(timeout: .now() + 10)
        }
        p.waitUntilExit()
        return Result(status: p.terminationStatus, output: String(decoding: output.data, as: UTF8.self), timedOut: timedOut)
    }

    /// Written by the reader thread before it signals, read after the wait.
    private final class OutputBox: @unchecked Sendable { var data = Data() }
}
