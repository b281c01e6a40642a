import Foundation
import Persistence
import TestSupport
import XCTest

/// Checkpoints written before the Training / Methods split (format version 1, committed under
/// `Fixtures/`) resume with today's build exactly: the resumed run ends with the weights,
/// optimizer state (and MoCo queue) of an uninterrupted run of today's build, under the same
/// config hash.
final class CheckpointCompatibilityTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws { scratch = try makeTemporaryDirectory(self) }

    private func fixture(_ name: String) -> String {
        Concord.repositoryRoot.appendingPathComponent("Tests/IntegrationTests/Fixtures/\(name)").path
    }

    private func resumesExactly(_ checkpoint: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let fresh = scratch.appendingPathComponent("fresh").path, resumed = scratch.appendingPathComponent("resumed").path
        // The fixtures were written with OpenBLAS's Haswell kernels and the AVX2 convolution
        // kernels, which every supported CPU runs: a run's rounding depends on the kernels.
        let blas = ["OPENBLAS_CORETYPE": "Haswell", "CONCORD_KERNELS": "avx2"]
        let reference = try Concord.run(args + ["--run-dir", fresh], environment: blas)
        XCTAssertEqual(reference.status, 0, reference.output, file: file, line: line)
        let continued = try Concord.run(args + ["--run-dir", resumed, "--resume", fixture(checkpoint)], environment: blas)
        XCTAssertEqual(continued.status, 0, continued.output, file: file, line: line)
        XCTAssertTrue(continued.output.contains("resumed from \(fixture(checkpoint))"), continued.output, file: file, line: line)
        XCTAssertFalse(continued.output.contains("config differs"), "the config hash is unchanged: \(continued.output)", file: file, line: line)
        let diff = try Concord.run(["checkpoint", "diff", fresh + "/checkpoints/final.ckpt", resumed + "/checkpoints/final.ckpt"])
        XCTAssertEqual(diff.status, 0, diff.output, file: file, line: line)
        XCTAssertTrue(diff.output.contains("identical"), diff.output, file: file, line: line)
    }

    func testASupervisedCheckpointFromFormatOneResumesExactly() throws {
        XCTAssertEqual(try CheckpointFile(contentsOf: fixture("format1-smoke-iter40.ckpt")).metadata["iteration"], "40")
        try resumesExactly("format1-smoke-iter40.ckpt",
                           ["train", "configs/smoke.yaml", "--set", "model.mlp_hidden=[16]", "--set", "train.eval_every=0", "--set", "run.progress=none"])
    }

    func testAMoCoCheckpointFromFormatOneResumesExactlyWithItsQueue() throws {
        let old = try CheckpointFile(contentsOf: fixture("format1-moco-iter20.ckpt"))
        XCTAssertEqual(old.metadata["queue_ptr"], "0", "20 steps × 16 keys wrap a 64-key queue to 0")
        try resumesExactly("format1-moco-iter20.ckpt",
                           ["train", "configs/moco-v2-fashion.yaml", "--set", "model.width=4", "--set", "moco.queue_size=64",
                            "--set", "moco.dim=16", "--set", "moco.head_hidden=16", "--set", "train.batch_size=16",
                            "--set", "train.iterations=40", "--set", "checkpoint.every_iterations=20", "--set", "moco.knn_every=0",
                            "--set", "run.progress=none"])
    }
}
