@testable import Persistence
import Foundation
import TestSupport
import XCTest

/// TensorBoard event files: CRC-32C and TFRecord framing against published vectors, and
/// scalars read back by a reader written from the format's specification.
final class TensorBoardEventFileTests: XCTestCase {
    func testCRC32CMatchesThePublishedVectors() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)   // RFC 3720 B.4
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.masked([0x1A, 0x11] + Array("CRC test, one two".utf8)), 0x5794_D08A)   // TensorBoard's masked_crc.rs
    }

    /// The first record of an event file written at wall time 1599759586, as TensorBoard's own
    /// record-reader test spells it out byte by byte.
    func testTheVersionRecordIsByteForByteTensorBoardsExample() {
        var event = ProtobufMessage()
        event.double(1, 1_599_759_586)
        event.string(3, "brain.Event:2")
        let expected: [UInt8] = [0x18, 0, 0, 0, 0, 0, 0, 0, 0xA3, 0x7F, 0x4B, 0x22,
                                 0x09, 0x00, 0x00, 0x80, 0x38, 0x99, 0xD6, 0xD7, 0x41, 0x1A, 0x0D]
            + Array("brain.Event:2".utf8) + [0x12, 0x4B, 0x36, 0xAB]
        XCTAssertEqual(TensorBoardEventFile.record(event.bytes), expected)
    }

    func testScalarsAndASessionStartReadBackWithTheirStepsAndChecksums() throws {
        let dir = try makeTemporaryDirectory(self).path
        let file = try TensorBoardEventFile(directory: dir, wallTime: 1_700_000_000)
        try file.add([("train/loss", 2.3125), ("train/lr", 0.1)], step: 50)
        try file.add([("epoch/test_acc", 0.875)], step: 300)
        try file.startSession(at: 250)
        XCTAssertTrue((file.path as NSString).lastPathComponent.hasPrefix("events.out.tfevents.1700000000."), file.path)
        let records = try TensorBoardEvent.read(file.path)
        for r in records {
            XCTAssertEqual(r.lengthCRC, CRC32C.masked(r.lengthBytes))
            XCTAssertEqual(r.dataCRC, CRC32C.masked(r.data))
        }
        let events = records.map(\.event)
        XCTAssertEqual(events.count, 4)
        XCTAssertEqual(events[0].fileVersion, "brain.Event:2")
        XCTAssertEqual(events[0].wallTime, 1_700_000_000)
        XCTAssertEqual(events[1].step, 50)
        XCTAssertEqual(events[1].scalars, ["train/loss": 2.3125, "train/lr": 0.1])
        XCTAssertEqual(events[2].scalars, ["epoch/test_acc": 0.875])
        XCTAssertEqual(events[3].step, 250)
        XCTAssertEqual(events[3].sessionStatus, 1)
        // A second file in the same directory gets a new name.
        XCTAssertNotEqual(try TensorBoardEventFile(directory: dir, wallTime: 1_700_000_000).path, file.path)
    }

    func testAnUnwritableDirectoryIsOneLineNamingTheFile() {
        assertError(FileWriteError.self, try TensorBoardEventFile(directory: "/nonexistent-dir"),
                    contains: ["/nonexistent-dir/events.out.tfevents.", "cannot be created"])
    }
}
