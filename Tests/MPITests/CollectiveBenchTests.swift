import MPI
import TestSupport
import XCTest

/// The latency–bandwidth fit behind `concord bench --collective allreduce --sweep`.
final class CollectiveBenchTests: XCTestCase {
    /// Times made from a known a = 40 µs and b = 2 ns/byte (±3 % noise) give back a and b, and
    /// α, β as a ring allreduce over 4 ranks reads them: a / 2(p−1), b·p / 2(p−1).
    func testTheFitRecoversLatencyAndBandwidth() {
        let noise: [Double] = [1.02, 0.98, 1.03, 0.99, 1.01, 0.97]
        let points = CollectiveBench.sweepSizes.enumerated().map { i, bytes in
            (bytes: bytes, seconds: (40e-6 + 2e-9 * Double(bytes)) * noise[i % noise.count])
        }
        let fit = CollectiveBench.LatencyBandwidth(fitting: points, ranks: 4)
        XCTAssertEqual(fit.a, 40e-6, accuracy: 2e-6)
        XCTAssertEqual(fit.b, 2e-9, accuracy: 0.1e-9)
        XCTAssertEqual(fit.alpha, fit.a / 6, accuracy: 1e-12)
        XCTAssertEqual(fit.beta, fit.b * 4 / 6, accuracy: 1e-15)
        let alone = CollectiveBench.LatencyBandwidth(fitting: points, ranks: 1)
        XCTAssertEqual([alone.alpha, alone.beta], [0, 0], "one rank sends nothing")
    }

    /// A sweep on the single-process communicator runs every size and fits without failing.
    func testASweepOnOneProcessMeasuresEverySize() throws {
        let (times, _) = try CollectiveBench.sweep(.single(), sizes: [4, 4096])
        XCTAssertEqual(times.map(\.bytes), [4, 4096])
        XCTAssertTrue(times.allSatisfy { $0.seconds >= 0 && $0.seconds < 0.01 })
    }
}
