@testable import Training
import TestSupport
import XCTest

final class FaultInjectionTests: XCTestCase {
    func testTheEnvironmentNamesOneFaultOnOneRank() throws {
        XCTAssertNil(try FaultInjection.fromEnvironment([:]))
        XCTAssertNil(try FaultInjection.fromEnvironment(["CONCORD_FAULT": ""]))
        let fault = try XCTUnwrap(FaultInjection.fromEnvironment(["CONCORD_FAULT": "nan-gradient=3@rank=1"]))
        XCTAssertEqual(fault, FaultInjection(kind: .nanGradient, step: 3, rank: 1))
        XCTAssertNil(fault.onRank(0, resumed: false), "other ranks run normally")
        XCTAssertTrue(try XCTUnwrap(fault.onRank(1, resumed: true)).fires(.nanGradient, at: 3))
        XCTAssertFalse(fault.fires(.nanGradient, at: 4))
        XCTAssertFalse(fault.fires(.skipStep, at: 3))
        assertError(TrainingError.self, try FaultInjection.fromEnvironment(["CONCORD_FAULT": "explode=3@rank=1"]),
                    contains: ["CONCORD_FAULT 'explode=3@rank=1'", "skip-step", "unset it"])
    }

    /// A one-time crash does not happen again in the run that resumed after it.
    func testACrashFaultIsDroppedOnResume() throws {
        let crash = FaultInjection(kind: .killInEnqueue, step: 5, rank: 0)
        XCTAssertNotNil(crash.onRank(0, resumed: false))
        XCTAssertNil(crash.onRank(0, resumed: true))
        XCTAssertNotNil(FaultInjection(kind: .slowCheckpoint, step: 5, rank: 0).onRank(0, resumed: true))
    }
}
