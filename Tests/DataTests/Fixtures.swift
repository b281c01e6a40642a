import CZlib
import Data
import Foundation
import XCTest

/// Test files written straight through zlib, independent of the reader under test.
enum Fixtures {
    /// A fresh temporary directory, removed when the test case tears down.
    static func temporaryDirectory(_ test: XCTestCase) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("concord-data-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// IDX header (magic, big-endian dims) followed by `data`.
    static func idxBytes(magic: UInt32, dims: [UInt32], data: [UInt8]) -> [UInt8] {
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        return be(magic) + dims.flatMap(be) + data
    }

    /// Writes `bytes` gzip-compressed with gzopen/gzwrite.
    static func writeGzip(_ bytes: [UInt8], to path: String) {
        guard let f = gzopen(path, "wb") else { return XCTFail("gzopen \(path) for writing") }
        let written = bytes.withUnsafeBytes { gzwrite(f, $0.baseAddress, UInt32($0.count)) }
        XCTAssertEqual(Int(written), bytes.count, "gzwrite \(path)")
        XCTAssertEqual(gzclose(f), Z_OK)
    }

    /// Writes `bytes` as they are.
    static func writePlain(_ bytes: [UInt8], to path: String) {
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)), "create \(path)")
    }

    /// The first `count` decompressed bytes of a gzip file, read with gzread directly.
    static func readGzipPrefix(_ path: String, count: Int) -> [UInt8] {
        guard let f = gzopen(path, "rb") else { XCTFail("gzopen \(path)"); return [] }
        defer { gzclose(f) }
        var out = [UInt8](repeating: 0, count: count)
        let got = out.withUnsafeMutableBytes { gzread(f, $0.baseAddress, UInt32(count)) }
        return Array(out.prefix(max(0, Int(got))))
    }
}

/// Asserts that `body` throws a `DataError` whose message contains every one of `fragments`.
func assertDataError(_ fragments: [String], file: StaticString = #filePath, line: UInt = #line,
                     _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected a DataError containing \(fragments)", file: file, line: line)
    } catch let error as DataError {
        let message = error.description
        XCTAssertFalse(message.contains("\n"), "message is not one line: \(message)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(message.contains(fragment), "'\(message)' lacks '\(fragment)'", file: file, line: line)
        }
    } catch {
        XCTFail("expected a DataError, got \(type(of: error)): \(error)", file: file, line: line)
    }
}
