@testable import Tools
import Engine
import Foundation
import TestSupport
import XCTest

/// The vendored PyTorch reference cases (Tests/ToolsTests/Golden, copied from
/// shared/golden) run through the engine.
final class GoldenRunnerTests: XCTestCase {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden").path

    func testEveryOpAndModelCasePasses() throws {
        let results = try GoldenRunner.run(directory: Self.directory)
        XCTAssertGreaterThanOrEqual(results.count, 24)
        for r in results {
            switch r.status {
            case .pass:
                // Every case compares its outputs, and op cases their gradients too.
                XCTAssertFalse(r.details.isEmpty, r.name)
                if r.op != "schedule" { XCTAssertTrue(r.details.contains { $0.tensor.hasPrefix("grad.") }, r.name) }
            case .unsupported, .fail, .error: XCTFail(r.line)
            }
        }
        XCTAssertTrue(results.contains { $0.op == "resnet_sgd_step" && $0.status == .pass })
    }

    /// The MoCo v3 case checks the whole step: both logits and the loss, the base encoder's
    /// and predictor's gradients, and afterwards the momentum encoder's EMA and every batch
    /// norm's statistics (each moved by both views).
    func testMoCoV3StepComparesEveryPartOfTheStep() throws {
        let results = try GoldenRunner.run(directory: Self.directory)
        guard let moco = results.first(where: { $0.op == "moco_v3_step" }) else { return XCTFail("no moco_v3_step case") }
        XCTAssertEqual(moco.status, .pass, moco.line)
        let compared = Set(moco.details.map(\.tensor))
        for name in ["out.logits1", "out.logits2", "out.loss", "grad.param.base_encoder.blocks.1.attn.qkv.weight",
                     "grad.param.predictor.3.weight", "after.param.momentum_encoder.head.6.weight",
                     "after.buffer.base_encoder.head.7.running_var", "after.buffer.predictor.4.running_mean"] {
            XCTAssertTrue(compared.contains(name), "\(name) not compared")
        }
    }

    /// The MoCo case checks the whole step: logits and loss, the query encoder's gradients,
    /// and afterwards both encoders (the key encoder's EMA), their statistics and the queue.
    func testMoCoStepComparesEveryPartOfTheStep() throws {
        let results = try GoldenRunner.run(directory: Self.directory)
        guard let moco = results.first(where: { $0.op == "moco_v2_step" }) else { return XCTFail("no moco_v2_step case") }
        XCTAssertEqual(moco.status, .pass, moco.line)
        let compared = Set(moco.details.map(\.tensor))
        for name in ["out.logits", "out.loss", "grad.param.encoder_q.conv1.weight", "grad.param.encoder_q.fc.2.weight",
                     "after.param.encoder_q.fc.0.weight", "after.param.encoder_k.layer3.2.conv2.weight",
                     "after.buffer.encoder_k.bn1.running_mean", "after.buffer.queue", "after.buffer.queue_ptr"] {
            XCTAssertTrue(compared.contains(name), "\(name) not compared")
        }
    }

    func testUnreadableCaseIsAnErrorNotACrash() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID().uuidString).safetensors").path
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = GoldenRunner.run(path: path)
        guard case .error(let message) = r.status else { return XCTFail("expected an error, got \(r.line)") }
        XCTAssertTrue(message.contains(path), message)
    }

    func testToleranceRatio() {
        let expected = Engine.Tensor(shape: [2], values: [1, 100])
        let actual = Engine.Tensor(shape: [2], values: [1.001, 100.1])
        // |err| / (atol + rtol·|e|): 0.001/0.002 = 0.5 and 0.1/0.101 ≈ 0.990; the worst counts.
        XCTAssertEqual(toleranceRatio(actual, expected, rtol: 1e-3, atol: 1e-3), 0.1 / 0.101, accuracy: 1e-4)
        XCTAssertEqual(toleranceRatio(Engine.Tensor(shape: [1], values: [.nan]), Engine.Tensor(shape: [1], values: [0]),
                                      rtol: 1e-3, atol: 1e-3), .infinity)
    }
}


