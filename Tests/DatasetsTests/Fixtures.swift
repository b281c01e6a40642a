import Datasets
import TestSupport
import Foundation
import XCTest

/// Test files written and read with the system's `gzip` tool, independent of the reader under
/// test (and keeping zlib's C API inside the Datasets module).
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

    /// Runs `gzip` with `arguments`, feeding `input`; returns its standard output.
    static func gzip(_ arguments: [String], input: [UInt8] = []) -> [UInt8] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = arguments
        let stdin = Pipe(), stdout = Pipe()
        p.standardInput = stdin
        p.standardOutput = stdout
        do { try p.run() } catch { XCTFail("cannot run /bin/gzip: \(error)"); return [] }
        // Feed stdin from another thread so a large output cannot block the writer.
        let feeder = Thread { stdin.fileHandleForWriting.write(Data(input)); try? stdin.fileHandleForWriting.close() }
        feeder.start()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return [UInt8](out)
    }

    /// Writes `bytes` gzip-compressed.
    static func writeGzip(_ bytes: [UInt8], to path: String) {
        let compressed = gzip(["-c"], input: bytes)
        XCTAssertGreaterThan(compressed.count, 0, "gzip \(path)")
        writePlain(compressed, to: path)
    }

    /// Writes `bytes` as they are.
    static func writePlain(_ bytes: [UInt8], to path: String) {
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)), "create \(path)")
    }

    /// The first `count` decompressed bytes of a gzip file, read with `gzip -dc`.
    static func readGzipPrefix(_ path: String, count: Int) -> [UInt8] {
        Array(gzip(["-dc", path]).prefix(count))
    }
}

/// Asserts that `body` throws a `DatasetError` whose message contains every one of `fragments`.
func assertDatasetError(_ fragments: [String], file: StaticString = #filePath, line: UInt = #line,
                        _ body: () throws -> Void) {
    assertError(DatasetError.self, try body(), contains: fragments, file: file, line: line)
}
