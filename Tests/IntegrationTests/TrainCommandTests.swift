import Foundation
import TestSupport
import XCTest

/// `concord train` end to end on the real data set, as a user runs it.
final class TrainCommandTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws { scratch = try makeTemporaryDirectory(self) }

    func testSmokeRunWritesTheRunDirectoryAndLearns() throws {
        let dir = scratch.appendingPathComponent("run").path
        let r = try Concord.run(["train", "configs/smoke.yaml", "--set", "run.dir=\(dir)", "--set", "run.progress=plain"])
        XCTAssertEqual(r.status, 0, r.output)
        for file in ["config.yaml", "metrics.jsonl", "log.txt", "model.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/" + file), "missing \(file)\n\(r.output)")
        }
        let lines = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let last = try XCTUnwrap(lines.last)
        let metrics = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        // One epoch of the MLP on Fashion-MNIST is well above chance (10 %).
        let accuracy = try XCTUnwrap(metrics["test_acc"] as? Double, "\(metrics)")
        XCTAssertGreaterThan(accuracy, 0.70, "\(metrics)")
        XCTAssertTrue(r.output.contains("epoch 1/1"), r.output)
        // TensorBoard: the epoch's numbers at its last iteration, loss and lr every log_every.
        let files = TensorBoardEvent.files(in: dir)
        XCTAssertEqual(files.count, 1)
        let events = try TensorBoardEvent.read(try XCTUnwrap(files.first)).map(\.event)
        XCTAssertEqual(events.first?.fileVersion, "brain.Event:2")
        let iteration = try XCTUnwrap(metrics["iteration"] as? Int)
        let epoch = try XCTUnwrap(events.last { $0.scalars["epoch/test_acc"] != nil })
        XCTAssertEqual(epoch.step, iteration)
        XCTAssertEqual(epoch.scalars["epoch/test_acc"], Float(accuracy))
        XCTAssertEqual(epoch.scalars["epoch/train_loss"], Float(try XCTUnwrap(metrics["train_loss"] as? Double)))
        let losses = events.filter { $0.scalars["train/loss"] != nil }
        XCTAssertEqual(losses.map(\.step), Array(stride(from: 20, through: iteration, by: 20)), "configs/smoke.yaml logs every 20")
        XCTAssertTrue(losses.allSatisfy { $0.scalars["train/lr"] != nil && ($0.scalars["train/images_per_s"] ?? 0) > 0 })
    }

    func testUnknownKeyIsAnErrorNamingFileLineAndKey() throws {
        let config = scratch.appendingPathComponent("bad.yaml")
        try "model:\n  name: mlp\ntrain:\n  epoch: 3\n".write(to: config, atomically: true, encoding: .utf8)
        let r = try Concord.run(["train", config.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("bad.yaml:4"), r.output)
        XCTAssertTrue(r.output.contains("train.epoch"), r.output)
        XCTAssertFalse(r.output.contains("Fatal error"), r.output)
    }

    func testMissingConfigAndBadOverrideAreOneLineErrors() throws {
        let missing = try Concord.run(["train", scratch.appendingPathComponent("nope.yaml").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.output.contains("nope.yaml"), missing.output)
        let bad = try Concord.run(["train", "configs/smoke.yaml", "--set", "train.epochs=zero"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.output.contains("train.epochs"), bad.output)
    }

    /// A run directory on a read-only file system (a read-only tmpfs mounted by the test: root
    /// ignores permission bits, not a read-only mount) — new, or holding a run to resume — is
    /// one line naming it, status 2, and the checkpoint already there stays as it was.
    func testARunDirectoryOnAReadOnlyFileSystemIsOneLineAndLosesNothing() throws {
        try XCTSkipUnless(getuid() == 0, "mounting a read-only file system needs root")
        let mountPoint = scratch.appendingPathComponent("ro").path
        let run = scratch.appendingPathComponent("ro/run").path
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let writable = try Concord.run(["train", "configs/smoke.yaml", "--set", "train.iterations=20", "--set", "run.progress=none",
                                        "--run-dir", run])
        XCTAssertEqual(writable.status, 0, writable.output)
        let checkpoint = try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoints/final.ckpt"))
        // Bind the directory read-only over itself.
        let mount = try MPIRun.execute("/usr/bin/env", ["mount", "--bind", "-o", "ro", mountPoint, mountPoint], environment: [:],
                                       directory: scratch, timeout: 30)
        XCTAssertEqual(mount.status, 0, mount.output)
        defer { _ = try? MPIRun.execute("/usr/bin/env", ["umount", mountPoint], environment: [:], directory: scratch, timeout: 30) }
        let remount = try MPIRun.execute("/usr/bin/env", ["mount", "-o", "remount,bind,ro", mountPoint], environment: [:],
                                         directory: scratch, timeout: 30)
        XCTAssertEqual(remount.status, 0, remount.output)
        XCTAssertFalse(FileManager.default.createFile(atPath: mountPoint + "/probe", contents: Data()), "the mount is read-only")
        for (name, extra) in [("resumed", ["--run-dir", run, "--resume", "auto", "--set", "train.iterations=40"]),
                              ("new", ["--run-dir", mountPoint + "/new"])] {
            let r = try Concord.run(["train", "configs/smoke.yaml", "--set", "run.progress=none"] + extra)
            XCTAssertEqual(r.status, 2, "\(name): \(r.output)")
            let errors = r.output.split(separator: "\n").filter { $0.hasPrefix("Error:") }
            XCTAssertEqual(errors.count, 1, r.output)
            XCTAssertTrue(errors.first?.contains("Read-only file system") == true, r.output)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoints/final.ckpt")), checkpoint)
    }

    func testAnExistingRunIsNeverOverwritten() throws {
        let dir = scratch.appendingPathComponent("run").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "{\"epoch\":1}\n".write(toFile: dir + "/metrics.jsonl", atomically: true, encoding: .utf8)
        let r = try Concord.run(["train", "configs/smoke.yaml", "--set", "run.dir=\(dir)"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains(dir) && r.output.contains("--resume auto") && r.output.contains("--run-dir"), r.output)
        XCTAssertEqual(try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8), "{\"epoch\":1}\n")
    }

    func testTooFewClassesAndContradictoryOptimizerAreErrors() throws {
        let dir = scratch.appendingPathComponent("run").path
        let classes = try Concord.run(["train", "configs/smoke.yaml", "--set", "run.dir=\(dir)", "--set", "model.num_classes=5"])
        XCTAssertNotEqual(classes.status, 0)
        XCTAssertTrue(classes.output.contains("model.num_classes"), classes.output)
        let nesterov = try Concord.run(["train", "configs/smoke.yaml", "--set", "run.dir=\(dir)2",
                                        "--set", "optimizer.nesterov=true", "--set", "optimizer.momentum=0"])
        XCTAssertNotEqual(nesterov.status, 0)
        XCTAssertTrue(nesterov.output.contains("optimizer.nesterov"), nesterov.output)
    }

    func testMissingDataDirectoryNamesItAndTheFix() throws {
        let r = try Concord.run(["train", "configs/smoke.yaml", "--set", "data.path=/nonexistent/fmnist",
                                 "--set", "run.dir=\(scratch.appendingPathComponent("run").path)"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("/nonexistent/fmnist"), r.output)
        XCTAssertTrue(r.output.contains("launch/setup") || r.output.contains("data.path"), r.output)
    }
}

/// `concord checkpoint inspect|verify|diff` on the final checkpoints of real runs.
final class CheckpointCommandTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws { scratch = try makeTemporaryDirectory(self) }

    private func train(_ dir: String, lr: String = "0.05") throws -> String {
        let r = try Concord.run(["train", "configs/smoke.yaml", "--set", "train.iterations=15", "--set", "optimizer.lr=" + lr,
                                 "--set", "run.progress=none", "--set", "train.eval_every=0",
                                 "--set", "run.dir=" + scratch.appendingPathComponent(dir).path])
        XCTAssertEqual(r.status, 0, r.output)
        return scratch.appendingPathComponent(dir + "/checkpoints/final.ckpt").path
    }

    func testFinalCheckpointIsInspectedVerifiedAndCompared() throws {
        let a = try train("a"), b = try train("b"), c = try train("c", lr: "0.01")
        let inspect = try Concord.run(["checkpoint", "inspect", a])
        XCTAssertEqual(inspect.status, 0, inspect.output)
        for text in ["iteration: 15", "model.1.weight  f32 64×784", "optimizer."] { XCTAssertTrue(inspect.output.contains(text), inspect.output) }

        let same = try Concord.run(["checkpoint", "diff", a, b])
        XCTAssertEqual(same.status, 0, same.output)
        XCTAssertTrue(same.output.contains("identical"), same.output)
        let different = try Concord.run(["checkpoint", "diff", a, c])
        XCTAssertEqual(different.status, 1, different.output)
        XCTAssertTrue(different.output.contains("entries differ"), different.output)
        XCTAssertEqual(try Concord.run(["checkpoint", "diff", a, c, "--atol", "10"]).status, 0)

        XCTAssertEqual(try Concord.run(["checkpoint", "verify", a]).status, 0)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: a))
        bytes[bytes.count - 50] ^= 0x08
        let damaged = scratch.appendingPathComponent("damaged.ckpt").path
        try bytes.write(to: URL(fileURLWithPath: damaged))
        let verify = try Concord.run(["checkpoint", "verify", damaged])
        XCTAssertEqual(verify.status, 1, verify.output)
        XCTAssertTrue(verify.output.contains("damaged.ckpt") && verify.output.contains("corrupted"), verify.output)
        let missing = try Concord.run(["checkpoint", "inspect", scratch.appendingPathComponent("none.ckpt").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.output.contains("does not exist"), missing.output)
    }

    /// A batch larger than the training set is refused with exit status 2 before any run
    /// directory is created.
    func testABatchLargerThanTheDataIsRefusedBeforeTheRunDirectoryExists() throws {
        let dir = scratch.appendingPathComponent("too-big").path
        let r = try Concord.run(["train", "configs/smoke.yaml", "--set", "train.batch_size=70000", "--set", "run.dir=\(dir)"])
        XCTAssertEqual(r.status, 2, r.output)
        XCTAssertTrue(r.output.contains("train.batch_size 70000 is larger than the 60000 training images"), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir), "no run directory for a run that cannot start")
    }
}
