@testable import Persistence
import Engine
import Foundation
import TestSupport
import XCTest

/// The one atomic writer: a failure leaves the old file and no temporary file behind.
final class AtomicFileTests: XCTestCase {
    var scratch: String = ""

    override func setUpWithError() throws { scratch = try makeTemporaryDirectory(self).path }

    func testFailedWriteLeavesOldFileIntactAndNoTemporaryFiles() throws {
        let path = scratch + "/ckpt.safetensors"
        var old = SafeTensors()
        old.set("w", Tensor(shape: [2], values: [1, 2]))
        try old.write(to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        var new = SafeTensors()
        new.set("w", Tensor(shape: [1000], repeating: 7))
        assertError(FileWriteError.self, try AtomicFile.write(new.serialized(), to: path, failAfterBytes: 100),
                    contains: [path, "injected", "previous file is untouched"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try SafeTensors(contentsOf: path).tensor("w").values, [1, 2])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch), ["ckpt.safetensors"])

        // A successful write replaces it.
        try new.write(to: path)
        XCTAssertEqual(try SafeTensors(contentsOf: path).tensor("w").count, 1000)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch), ["ckpt.safetensors"])
    }

    func testPartsAreWrittenInOrderAndAFailureInALaterPartKeepsTheOldFile() throws {
        let path = scratch + "/parts.bin"
        let parts: [[UInt8]] = [[1, 2, 3], [], Array(repeating: 9, count: 5000), [4]]
        try AtomicFile.write(parts: parts, to: path)
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: path))), Array(parts.joined()))
        assertError(FileWriteError.self, try AtomicFile.write(parts: [[7], [7, 7, 7]], to: path, failAfterBytes: 2),
                    contains: [path, "injected", "after 2 of 4 bytes"])
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: path))), Array(parts.joined()))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch), ["parts.bin"])
    }

    func testWriteIntoMissingDirectoryNamesThePath() {
        let path = scratch + "/no/such/dir/x.safetensors"
        assertError(FileWriteError.self, try SafeTensors().write(to: path), contains: [path, "temporary"])
        assertError(SafeTensorsError.self, try SafeTensors(contentsOf: path), contains: [path, "cannot open"])
    }

    /// Replacing keeps the permissions of the file replaced.
    func testAReplacedFileKeepsItsPermissions() throws {
        let path = scratch + "/config.yaml"
        try AtomicFile.write("a: 1\n", to: path)
        chmod(path, 0o600)
        try AtomicFile.write("a: 2\n", to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "a: 2\n")
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        XCTAssertEqual(mode, 0o600)
    }
}
