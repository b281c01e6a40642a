import Engine
import Foundation
import TestSupport
import XCTest

/// `FileBytes`: the one reader of whole files from outside.
final class FileBytesTests: XCTestCase {
    func testReadsFilesWholeOrMappedAndEmptyFilesAsEmpty() throws {
        let directory = try makeTemporaryDirectory(self)
        let path = try writeFile("twelve bytes", named: "a", in: directory)
        XCTAssertEqual(try FileBytes.read(path), Data("twelve bytes".utf8))
        XCTAssertEqual(try FileBytes.read(path, mapped: true), Data("twelve bytes".utf8))
        // An empty file (what `launch/fuzz numpy` and `cifar` first fed the readers) is
        // answered without Foundation's reader, which leaks a buffer for it.
        let empty = try writeFile("", named: "empty", in: directory)
        XCTAssertEqual(try FileBytes.read(empty), Data())
        XCTAssertEqual(try FileBytes.read(empty, mapped: true), Data())
        XCTAssertEqual(FileBytes.contents(empty), Data())
        XCTAssertNil(FileBytes.contents(directory.appendingPathComponent("missing").path))
        XCTAssertThrowsError(try FileBytes.read(directory.appendingPathComponent("missing").path))
        XCTAssertThrowsError(try FileBytes.read(directory.path))
    }
}
