@testable import Coordinator
import Engine
import Foundation
import XCTest

/// The vendored PyTorch reference cases (Tests/CoordinatorTests/Golden, copied from
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
            case .unsupported:
                XCTAssertEqual(r.op, "moco_v2_step", "only the MoCo case may be unsupported: \(r.line)")
            case .fail, .error: XCTFail(r.line)
            }
        }
        XCTAssertTrue(results.contains { $0.op == "resnet_sgd_step" && $0.status == .pass })
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


