import Foundation
import TestSupport
import XCTest

/// Exact resume: runs killed with SIGKILL and continued with `--resume auto` end with the same
/// weights, optimizer state and metrics as a run never interrupted.
final class ResumeTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws { scratch = try makeTemporaryDirectory(self) }

    private func dir(_ name: String) -> String { scratch.appendingPathComponent(name).path }

    /// 300 iterations over two epochs of 234, a checkpoint every 25 and at the epoch end.
    private func options(_ name: String, batch: Int = 256) -> [String] {
        ["train", "configs/smoke.yaml", "--set", "model.mlp_hidden=[128]", "--set", "train.epochs=2", "--set", "train.iterations=300",
         "--set", "train.batch_size=\(batch)", "--set", "checkpoint.every_iterations=25", "--set", "checkpoint.keep=4",
         "--set", "run.progress=none", "--run-dir", dir(name)]
    }

    private var binary: String { Concord.productsDirectory.appendingPathComponent("concord").path }

    /// The iteration `checkpoints/latest` names, or -1.
    private func latest(_ name: String) -> Int {
        guard let text = try? String(contentsOfFile: dir(name) + "/checkpoints/latest", encoding: .utf8) else { return -1 }
        return Int(text.filter(\.isNumber)) ?? -1
    }

    /// Starts `args`, waits until `ready()` and kills `victim()` (default: the process) with SIGKILL.
    private func runAndKill(_ executable: String, _ args: [String], environment: [String: String] = [:],
                            when ready: () -> Bool, victim: (() -> Int32?)? = nil) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        p.currentDirectoryURL = Concord.repositoryRoot
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while !ready() && p.isRunning && Date() < deadline { usleep(2_000) }
        XCTAssertTrue(p.isRunning, "the run ended before the kill point")
        let pid = victim?() ?? p.processIdentifier
        kill(pid, SIGKILL)
        p.waitUntilExit()
        return pid
    }

    private func assertSameRun(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let diff = try Concord.run(["checkpoint", "diff", dir(a) + "/checkpoints/final.ckpt", dir(b) + "/checkpoints/final.ckpt"])
        let differing = diff.output.split(separator: "\n").filter { !$0.hasSuffix("max |Δ| 0") }.joined(separator: "\n")
        XCTAssertEqual(diff.status, 0, differing, file: file, line: line)
        XCTAssertEqual(try metrics(a), try metrics(b), file: file, line: line)
    }

    /// metrics.jsonl without the fields that measure time or memory.
    private func metrics(_ name: String) throws -> [NSDictionary] {
        try String(contentsOfFile: dir(name) + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { line in
            var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            for key in ["epoch_s", "eval_s", "images_per_s", "peak_rss_mib"] { object.removeValue(forKey: key) }
            return object as NSDictionary
        }
    }

    /// The run's TensorBoard scalars as TensorBoard shows them: files in name order, a session
    /// START at step T dropping the earlier files' points at T and past it
    /// (`EventAccumulator._Purge` keeps `step < T`). tag → step → value.
    private func tensorBoard(_ name: String) throws -> [String: [Int: Float]] {
        var view: [String: [Int: Float]] = [:]
        for path in TensorBoardEvent.files(in: dir(name)) {
            for event in try TensorBoardEvent.read(path).map(\.event) {
                if event.sessionStatus == 1 { view = view.mapValues { $0.filter { $0.key < event.step } } }
                for (tag, value) in event.scalars { view[tag, default: [:]][event.step] = value }
            }
        }
        return view
    }

    func testKilledTwiceAndResumedEqualsAnUninterruptedRun() throws {
        let reference = try Concord.run(options("reference"))
        XCTAssertEqual(reference.status, 0, reference.output)
        XCTAssertEqual(try metrics("reference").count, 2)
        // Mid-epoch 1, then mid-epoch 2 (past the epoch-end checkpoint at 234).
        _ = try runAndKill(binary, options("killed"), when: { latest("killed") >= 75 })
        _ = try runAndKill(binary, options("killed") + ["--resume", "auto"], when: { latest("killed") >= 250 })
        let resumed = try Concord.run(options("killed") + ["--resume", "auto"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("resumed from"), resumed.output)
        try assertSameRun("reference", "killed")
        // TensorBoard: one file per start, and the same curves as the uninterrupted run's (the
        // per-window loss may differ only in the first window after a resume).
        XCTAssertEqual(TensorBoardEvent.files(in: dir("killed")).count, 3)
        let (a, b) = (try tensorBoard("reference"), try tensorBoard("killed"))
        let timing = ["epoch/epoch_s", "epoch/eval_s", "epoch/images_per_s", "epoch/peak_rss_mib", "train/images_per_s"]
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for tag in a.keys.sorted() where !timing.contains(tag) {
            if tag == "train/loss" { XCTAssertEqual(a[tag]?.keys.sorted(), b[tag]?.keys.sorted()) } else { XCTAssertEqual(a[tag], b[tag], tag) }
        }
        XCTAssertEqual(a["epoch/test_acc"]?.keys.sorted(), [234, 300])
    }

    /// Every stream and counter a resume must restore: augmentation, dropout masks, AdamW's
    /// per-parameter steps, a warm-up + cosine schedule, two micro-batches per step.
    func testResumeIsExactWithAugmentationDropoutAdamWAndMicroBatches() throws {
        let extra = ["--set", "data.augment=true", "--set", "model.dropout=0.2", "--set", "optimizer.name=adamw",
                     "--set", "optimizer.lr=0.002", "--set", "schedule.kind=cosine", "--set", "schedule.warmup_epochs=0.5",
                     "--set", "train.accumulation_steps=2"]
        let reference = try Concord.run(options("reference") + extra)
        XCTAssertEqual(reference.status, 0, reference.output)
        _ = try runAndKill(binary, options("killed") + extra, when: { latest("killed") >= 100 })
        _ = try runAndKill(binary, options("killed") + extra + ["--resume", "auto"], when: { latest("killed") >= 234 })
        let resumed = try Concord.run(options("killed") + extra + ["--resume", "auto"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        try assertSameRun("reference", "killed")
    }

    /// A ViT with stochastic depth: its drop-path streams are checkpointed, so the resumed run
    /// drops the images the uninterrupted one did.
    func testResumeIsExactForAVisionTransformerWithDropPath() throws {
        func vit(_ name: String) -> [String] {
            ["train", "configs/fashion-vit.yaml", "--set", "model.depth=2", "--set", "model.dim=16", "--set", "model.heads=2",
             "--set", "model.drop_path=0.3", "--set", "train.epochs=1", "--set", "train.iterations=60", "--set", "train.batch_size=32",
             "--set", "checkpoint.every_iterations=10", "--set", "checkpoint.keep=4", "--set", "run.progress=none", "--run-dir", dir(name)]
        }
        let reference = try Concord.run(vit("vit-reference"))
        XCTAssertEqual(reference.status, 0, reference.output)
        _ = try runAndKill(binary, vit("vit-killed"), when: { latest("vit-killed") >= 10 })
        let resumed = try Concord.run(vit("vit-killed") + ["--resume", "auto"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("resumed from"), resumed.output)
        try assertSameRun("vit-reference", "vit-killed")
    }

    /// SIGTERM (preemption): the run saves a checkpoint at the next step and exits 143; the
    /// resumed run ends exactly like an uninterrupted one.
    func testSIGTERMSavesAndExitsThenResumesExactly() throws {
        XCTAssertEqual(try Concord.run(options("reference")).status, 0)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = options("stopped")
        p.currentDirectoryURL = Concord.repositoryRoot
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        while latest("stopped") < 50 && p.isRunning && Date() < deadline { usleep(2_000) }
        kill(p.processIdentifier, SIGTERM)
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 143, output)
        XCTAssertTrue(output.contains("stopped by SIGTERM at iteration"), output)
        let stoppedAt = latest("stopped")
        XCTAssertTrue(output.contains("at iteration \(stoppedAt) "), "the checkpoint is the stop point: \(output)")
        let resumed = try Concord.run(options("stopped") + ["--resume", "auto"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        try assertSameRun("reference", "stopped")

        // The final checkpoint's model, for PyTorch.
        let exported = dir("model.safetensors")
        let export = try Concord.run(["export", dir("stopped") + "/checkpoints/final.ckpt", "--to", exported])
        XCTAssertEqual(export.status, 0, export.output)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: exported)).count > 100_000, true)
    }

    func testADamagedNewestCheckpointIsSkippedForThePreviousOne() throws {
        let first = try Concord.run(options("run"))
        XCTAssertEqual(first.status, 0, first.output)
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: dir("run") + "/checkpoints")
            .filter { $0.hasPrefix("iter-") }.sorted()
        let newest = dir("run") + "/checkpoints/" + (try XCTUnwrap(checkpoints.last))
        var bytes = try Data(contentsOf: URL(fileURLWithPath: newest))
        bytes[bytes.count / 2] ^= 0x20
        try bytes.write(to: URL(fileURLWithPath: newest))
        // And the one before it cut short, as a crash in mid-write by another writer would leave it.
        let previous = dir("run") + "/checkpoints/" + checkpoints[checkpoints.count - 2]
        let whole = try Data(contentsOf: URL(fileURLWithPath: previous))
        try whole.prefix(whole.count / 3).write(to: URL(fileURLWithPath: previous))
        let resumed = try Concord.run(options("run") + ["--resume", "auto"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("skipping checkpoint '\(newest)'") && resumed.output.contains("corrupted"), resumed.output)
        XCTAssertTrue(resumed.output.contains("skipping checkpoint '\(previous)' is truncated"), resumed.output)
        XCTAssertTrue(resumed.output.contains("resumed from \(dir("run"))/checkpoints/\(checkpoints[checkpoints.count - 3])"), resumed.output)
    }

    func testAChangedModelIsRefusedAndABadPathNamed() throws {
        XCTAssertEqual(try Concord.run(options("run")).status, 0)
        let changed = try Concord.run(options("run") + ["--set", "model.mlp_hidden=[32]", "--resume", "auto"])
        XCTAssertEqual(changed.status, 2, changed.output)
        XCTAssertTrue(changed.output.contains("holds a different model"), changed.output)
        let missing = try Concord.run(options("other") + ["--resume", dir("none.ckpt")])
        XCTAssertEqual(missing.status, 2, missing.output)
        XCTAssertTrue(missing.output.contains("none.ckpt' does not exist"), missing.output)
        // A checkpoint of another method is named as such, before any tensor is compared.
        let moco = try Concord.run(["train", "configs/moco-v2-fashion.yaml", "--set", "run.progress=none", "--run-dir", dir("moco"),
                                    "--resume", dir("run") + "/checkpoints/iter-00000250.ckpt"])
        XCTAssertEqual(moco.status, 2, moco.output)
        XCTAssertTrue(moco.output.contains("was written by a run training method supervised; this config trains method moco"), moco.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir("moco") + "/metrics.jsonl"))
    }

    /// A restart cannot fix a bad config: supervise stops at once with its status (2).
    func testSuperviseStopsOnAPermanentError() throws {
        let supervise = Concord.repositoryRoot.appendingPathComponent("launch/supervise").path
        let r = try MPIRun.execute(supervise, ["--backoff", "0", "--", binary, "train", "configs/smoke.yaml", "--set", "train.epochs=zero"],
                                   environment: [:], directory: Concord.repositoryRoot, timeout: 60)
        XCTAssertEqual(r.status, 2, r.output)
        XCTAssertTrue(r.output.contains("train.epochs"), r.output)
        XCTAssertTrue(r.output.contains("not restarting"), r.output)
        XCTAssertFalse(r.output.contains("restarting in"), r.output)
    }

    /// Continuing from an older checkpoint sets the later ones aside: they are neither pruned
    /// in place of this run's nor taken by a later --resume auto.
    func testResumingFromAnOlderCheckpointSetsTheLaterOnesAside() throws {
        XCTAssertEqual(try Concord.run(options("run")).status, 0)
        // Kept: 225, 234, 250, 275. Continue from 225 and stop at 260.
        let older = dir("run") + "/checkpoints/iter-00000225.ckpt"
        let again = try Concord.run(options("run") + ["--resume", older, "--set", "train.iterations=260"])
        XCTAssertEqual(again.status, 0, again.output)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir("run") + "/checkpoints")
        XCTAssertTrue(names.contains("stale-iter-00000275.ckpt"), "\(names)")
        XCTAssertFalse(names.contains("iter-00000275.ckpt"), "\(names)")
        XCTAssertTrue(names.contains("iter-00000250.ckpt"), "\(names)")
        XCTAssertEqual(try String(contentsOfFile: dir("run") + "/checkpoints/latest", encoding: .utf8), "iter-00000250.ckpt\n")
    }

    // MARK: Two ranks

    /// An error only rank 0 sees (the run directory already holds a run): every rank ends with
    /// its status, 2, and the supervisor does not restart.
    func testARank0OnlyPermanentErrorStopsTheSupervisor() throws {
        try XCTSkipUnless(MPIRun.isAvailable, "mpirun is not installed; launch/setup installs openmpi-bin")
        XCTAssertEqual(try Concord.run(options("run") + ["--set", "train.iterations=30"]).status, 0)
        let supervise = Concord.repositoryRoot.appendingPathComponent("launch/supervise").path
        let r = try MPIRun.execute(supervise, ["--backoff", "0", "--", "/usr/bin/env"] + mpirun(options("run")),
                                   environment: mpiEnvironment, directory: Concord.repositoryRoot, timeout: 120)
        XCTAssertEqual(r.status, 2, r.output)
        XCTAssertTrue(r.output.contains("already holds a run"), r.output)
        XCTAssertFalse(r.output.contains("restarting in"), r.output)
    }

    private func mpirun(_ args: [String]) -> [String] {
        ["mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none", "-x", "CONCORD_FAULT", binary] + args
    }

    private var mpiEnvironment: [String: String] {
        ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "PMIX_MCA_gds": "hash", "CONCORD_FAULT": ""]
    }

    /// The newest rank process of the run in `name` (its command line names the run directory).
    private func rankPID(_ name: String) -> Int32? {
        let pipe = Pipe(), p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
        p.arguments = ["-n", "-f", "concord train .*--run-dir \(dir(name))"]
        p.standardOutput = pipe
        try? p.run()
        p.waitUntilExit()
        return Int32(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func testTwoRanksKilledMidRunAndMidCheckpointRecoverUnderSupervise() throws {
        try XCTSkipUnless(MPIRun.isAvailable, "mpirun is not installed; launch/setup installs openmpi-bin")
        let reference = try MPIRun.run(ranks: 2, options("reference", batch: 128))
        XCTAssertEqual(reference.status, 0, reference.output)
        let supervise = Concord.repositoryRoot.appendingPathComponent("launch/supervise").path
        let command = [supervise, "--max-restarts", "3", "--backoff", "0.1", "--", "/usr/bin/env"] + mpirun(options("killed", batch: 128))
        // One rank killed at a random point mid-run; then one killed while the checkpoint of
        // iteration 150 is being written (its writer holds the file back for 2 s).
        var environment = mpiEnvironment
        environment["CONCORD_FAULT"] = "slow-checkpoint=150@rank=0"
        let supervisor = Process()
        supervisor.executableURL = URL(fileURLWithPath: command[0])
        supervisor.arguments = Array(command.dropFirst())
        supervisor.currentDirectoryURL = Concord.repositoryRoot
        supervisor.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let log = Pipe()
        supervisor.standardOutput = log
        supervisor.standardError = log
        try supervisor.run()
        let deadline = Date().addingTimeInterval(240)
        func waitUntil(_ condition: () -> Bool) { while !condition() && supervisor.isRunning && Date() < deadline { usleep(2_000) } }
        waitUntil { latest("killed") >= 50 }
        usleep(UInt32.random(in: 0..<20_000))
        if let pid = rankPID("killed") { kill(pid, SIGKILL) }
        let temporary = { (try? FileManager.default.contentsOfDirectory(atPath: self.dir("killed") + "/checkpoints"))?
            .contains { $0.hasPrefix(".iter-00000150") } ?? false }
        waitUntil(temporary)
        XCTAssertTrue(temporary(), "never saw the checkpoint of iteration 150 being written")
        if let pid = rankPID("killed") { kill(pid, SIGKILL) }
        let output = log.fileHandleForReading.readDataToEndOfFile()
        supervisor.waitUntilExit()
        let text = String(decoding: output, as: UTF8.self)
        XCTAssertEqual(supervisor.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("restarting in"), text)
        try assertSameRun("reference", "killed")
    }

    func testATwoRankCheckpointContinuesOnOneRank() throws {
        try XCTSkipUnless(MPIRun.isAvailable, "mpirun is not installed; launch/setup installs openmpi-bin")
        let two = try MPIRun.run(ranks: 2, options("two", batch: 128) + ["--set", "train.iterations=100"])
        XCTAssertEqual(two.status, 0, two.output)
        let one = try Concord.run(options("one", batch: 128) + ["--resume", dir("two") + "/checkpoints/iter-00000075.ckpt"])
        XCTAssertEqual(one.status, 0, one.output)
        XCTAssertTrue(one.output.contains("saved on 2 rank(s), now 1: global batch 256 kept (256 per rank)"), one.output)
        let log = try String(contentsOfFile: dir("one") + "/log.txt", encoding: .utf8)
        XCTAssertTrue(log.contains("300 iterations"), log)
        let last = try XCTUnwrap(try metrics("one").last)
        XCTAssertLessThan(try XCTUnwrap(last["train_loss"] as? Double), 1.0, "training continued sensibly")
    }
}
