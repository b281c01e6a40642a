@testable import Training
import Config
import Foundation
import TestSupport
import XCTest

final class ScheduleTests: XCTestCase {
    func testWarmupThenCosine() {
        let s = Schedule(base: 0.1, segments: [.linearWarmup(iterations: 10, startFactor: 0.1), .cosine(iterations: 90, final: 0)])
        XCTAssertEqual(s.value(at: 0), 0.01, accuracy: 1e-12)
        XCTAssertEqual(s.value(at: 5), 0.1 * (0.1 + 0.9 * 0.5), accuracy: 1e-12)
        XCTAssertEqual(s.value(at: 10), 0.1, accuracy: 1e-12)           // cosine starts at the base
        XCTAssertEqual(s.value(at: 55), 0.05, accuracy: 1e-12)          // half-way: (1 + cos π/2)/2
        XCTAssertEqual(s.value(at: 100), 0, accuracy: 1e-12)            // holds the final value
        XCTAssertEqual(s.value(at: 500), 0, accuracy: 1e-12)
    }

    func testMultistepAndStep() {
        let m = Schedule(base: 0.4, segments: [.multistep(milestones: [30, 60], gamma: 0.1, iterations: nil)])
        XCTAssertEqual(m.value(at: 29), 0.4, accuracy: 1e-12)
        XCTAssertEqual(m.value(at: 30), 0.04, accuracy: 1e-12)
        XCTAssertEqual(m.value(at: 75), 0.004, accuracy: 1e-12)
        let st = Schedule(base: 1, segments: [.step(stepSize: 10, gamma: 0.5, iterations: nil)])
        XCTAssertEqual(st.value(at: 9), 1)
        XCTAssertEqual(st.value(at: 25), 0.25)
    }

    func testCosineRestartsCycles() {
        // Cycles of 10, 20, 40 iterations: each restart returns to the base.
        let s = Schedule(base: 0.1, segments: [.cosineRestarts(t0: 10, tMult: 2, final: 0.001, iterations: nil)])
        for restart in [0, 10, 30, 70] { XCTAssertEqual(s.value(at: restart), 0.1, accuracy: 1e-12, "at \(restart)") }
        XCTAssertEqual(s.value(at: 20), 0.001 + 0.099 * 0.5, accuracy: 1e-12)   // middle of the 20-long cycle
    }

    func testExponentialWarmupGrowsGeometrically() {
        let s = Schedule(base: 0.4, segments: [.exponentialWarmup(iterations: 100, startFactor: 0.01), .constant(iterations: nil)])
        XCTAssertEqual(s.value(at: 0), 0.004, accuracy: 1e-12)
        XCTAssertEqual(s.value(at: 50), 0.4 * 0.1, accuracy: 1e-12)   // half-way: √0.01 of the base
        XCTAssertEqual(s.value(at: 100), 0.4, accuracy: 1e-12)
        XCTAssertEqual(s.boundaries, [0, 100])
    }

    /// PyTorch's PolynomialLR: base · (1 − t/T)^power, here ending at `final`.
    func testPolynomialDecay() {
        let s = Schedule(base: 1.0, segments: [.polynomial(iterations: 10, power: 2, final: 0)])
        XCTAssertEqual(s.value(at: 5), 0.25, accuracy: 1e-12)
        XCTAssertEqual(s.value(at: 10), 0, accuracy: 1e-12)
        XCTAssertEqual(s.value(at: 20), 0, accuracy: 1e-12)
        let floor = Schedule(base: 1.0, segments: [.polynomial(iterations: 4, power: 1, final: 0.2)])
        XCTAssertEqual(floor.value(at: 2), 0.6, accuracy: 1e-12)
    }

    func testConstantTail() {
        let s = Schedule(base: 2, segments: [.linearWarmup(iterations: 4, startFactor: 0.5), .constant(iterations: nil)])
        XCTAssertEqual(s.value(at: 2), 1.5)
        XCTAssertEqual(s.value(at: 1000), 2)
    }
}
