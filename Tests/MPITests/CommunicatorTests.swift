import MPI
import TestSupport
import XCTest

/// The communicator outside `mpirun`: rank 0 of 1, every collective the identity. (The
/// multi-process behaviour is tested with `mpirun -np 2` in IntegrationTests.)
final class CommunicatorTests: XCTestCase {
    func testWithoutALauncherTheWorldIsOneProcess() throws {
        XCTAssertNil(Communicator.launcherWorldSize([:]))
        let world = try Communicator.world(environment: [:])
        XCTAssertEqual(world.rank, 0)
        XCTAssertEqual(world.size, 1)
        XCTAssertFalse(world.isDistributed)
    }

    func testLauncherEnvironmentIsRecognised() {
        XCTAssertEqual(Communicator.launcherWorldSize(["OMPI_COMM_WORLD_SIZE": "4"]), 4)
        XCTAssertEqual(Communicator.launcherWorldSize(["PMI_SIZE": "2"]), 2)
        XCTAssertEqual(Communicator.launcherWorldSize(["PMIX_RANK": "0"]), 0)   // launched, size unknown
    }

    func testSingleProcessCollectivesAreTheIdentity() throws {
        let world = Communicator.single()
        var values: [Float] = [1, -2, 3.5]
        try values.withUnsafeMutableBufferPointer { try world.allreduce($0, op: .sum) }
        XCTAssertEqual(values, [1, -2, 3.5])
        try values.withUnsafeMutableBufferPointer { try world.allreduceAverage($0) }
        XCTAssertEqual(values, [1, -2, 3.5])
        try values.withUnsafeMutableBufferPointer { try world.broadcast($0, root: 0) }
        XCTAssertEqual(values, [1, -2, 3.5])
        XCTAssertEqual(try world.allgather([Int64(7), 8]), [[7, 8]])
        var gathered = [Float](repeating: 0, count: 3)
        try values.withUnsafeBufferPointer { s in try gathered.withUnsafeMutableBufferPointer { try world.allgatherv(s, counts: [3], into: $0) } }
        XCTAssertEqual(gathered, values)
        let request = try values.withUnsafeMutableBufferPointer { try world.startAllreduce($0) }
        XCTAssertTrue(try request.test())
        try request.wait()
        try world.barrier()
    }

    func testAgreeOnRank0ReturnsTheValueOrTheError() throws {
        let world = Communicator.single()
        XCTAssertEqual(try world.agreeOnRank0 { 42 }, 42)
        struct Refused: Error {}
        XCTAssertThrowsError(try world.agreeOnRank0 { () throws -> Int in throw Refused() }) { XCTAssertTrue($0 is Refused) }
    }
}
