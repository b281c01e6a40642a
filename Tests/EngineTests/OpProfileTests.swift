import Engine
import XCTest

/// The op profile behind `concord bench --profile`: off, it records nothing; on, each op's
/// forward and backward are timed under its name, with the work of GEMM-like ops counted.
final class OpProfileTests: XCTestCase {
    override func tearDown() {
        OpProfile.isEnabled = false
        super.tearDown()
    }

    func testRecordsOpsWithTheirWorkOnlyWhenEnabled() {
        var rng = RandomGenerator(seed: 5)
        let x = Tensor.randn([6, 4], rng: &rng), w = Tensor.randn([3, 4], rng: &rng, requiresGrad: true)
        OpProfile.reset()
        x.linear(weight: w, bias: nil).gelu().sum().backward()
        XCTAssertTrue(OpProfile.entries.isEmpty)

        OpProfile.isEnabled = true
        OpProfile.reset()
        x.linear(weight: w, bias: nil).gelu().sum().backward()
        OpProfile.measure("optimizer") { }
        let names = Set(OpProfile.entries.keys)
        for name in ["linear.forward", "linear.backward", "gelu.forward", "gelu.backward", "sum.forward", "optimizer"] {
            XCTAssertTrue(names.contains(name), "\(name) in \(names.sorted())")
        }
        XCTAssertEqual(OpProfile.entries["linear.forward"]?.flops, 2 * 6 * 3 * 4)
        XCTAssertEqual(OpProfile.entries["linear.backward"]?.flops, 4 * 6 * 3 * 4)
        XCTAssertEqual(OpProfile.entries["linear.forward"]?.calls, 1)
        let table = OpProfile.table(steps: 1, stepSeconds: 0.01, peak: 100)
        XCTAssertTrue(table.contains("linear.backward") && table.contains("of peak") && table.contains("multiply-add peak"), table)
    }
}
