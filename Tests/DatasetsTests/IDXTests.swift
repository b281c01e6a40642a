import Datasets
import Foundation
import TestSupport
import XCTest

final class IDXTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = try Fixtures.temporaryDirectory(self)
    }

    private func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    // MARK: Round trips

    func testGzipImagesRoundTrip() throws {
        let data: [UInt8] = (0..<60).map { (i: Int) -> UInt8 in UInt8((i * 37 + 11) % 256) }
        let p = path("x-images-idx3-ubyte.gz")
        Fixtures.writeGzip(Fixtures.idxBytes(magic: 0x803, dims: [3, 4, 5], data: data), to: p)
        let idx = try IDXFile(path: p)
        XCTAssertEqual(idx.magic, IDXFile.imagesMagic)
        XCTAssertEqual(idx.dimensions, [3, 4, 5])
        XCTAssertEqual(idx.itemCount, 3)
        XCTAssertEqual(idx.bytes, data)
        XCTAssertEqual(idx.path, p)
    }

    func testGzipLabelsRoundTrip() throws {
        let data: [UInt8] = [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
        let p = path("x-labels-idx1-ubyte.gz")
        Fixtures.writeGzip(Fixtures.idxBytes(magic: 0x801, dims: [10], data: data), to: p)
        let idx = try IDXFile(path: p)
        XCTAssertEqual(idx.magic, IDXFile.labelsMagic)
        XCTAssertEqual(idx.dimensions, [10])
        XCTAssertEqual(idx.bytes, data)
    }

    func testUncompressedFileReadsToo() throws {
        let data: [UInt8] = (0..<18).map { (i: Int) -> UInt8 in UInt8(i) }
        let p = path("plain-idx3-ubyte")
        Fixtures.writePlain(Fixtures.idxBytes(magic: 0x803, dims: [2, 3, 3], data: data), to: p)
        let idx = try IDXFile(path: p)
        XCTAssertEqual(idx.dimensions, [2, 3, 3])
        XCTAssertEqual(idx.bytes, data)
    }

    /// Larger than the reader's 1 MiB chunk, so the chunked read path is exercised.
    func testMultiChunkRoundTrip() throws {
        let n = 1_500
        let data: [UInt8] = (0..<(n * 784)).map { (i: Int) -> UInt8 in UInt8(truncatingIfNeeded: (i &* 2_654_435_761) >> 13) }
        let p = path("big-idx3-ubyte.gz")
        Fixtures.writeGzip(Fixtures.idxBytes(magic: 0x803, dims: [UInt32(n), 28, 28], data: data), to: p)
        let idx = try IDXFile(path: p)
        XCTAssertEqual(idx.dimensions, [n, 28, 28])
        XCTAssertEqual(idx.bytes, data)
    }

    // MARK: Bad input

    func testMissingFileNamesThePath() {
        let p = path("nope-idx3-ubyte.gz")
        assertDatasetError([p, "not found"]) { _ = try IDXFile(path: p) }
    }

    func testDirectoryIsRejected() {
        assertDatasetError([dir.path, "directory"]) { _ = try IDXFile(path: dir.path) }
    }

    func testWrongMagicNamesFileAndMagic() {
        let p = path("wrong-magic.gz")
        Fixtures.writeGzip(Fixtures.idxBytes(magic: 0x0000_0802, dims: [4, 4], data: Array(repeating: 1, count: 16)),
                           to: p)
        assertDatasetError([p, "not an IDX file", "magic 0x00000802", "idx3-ubyte.gz"]) { _ = try IDXFile(path: p) }
    }

    func testTextFileIsNotIDX() {
        let p = path("notes.txt")
        Fixtures.writePlain(Array("hello, world\n".utf8), to: p)
        // "hell" as a big-endian word.
        assertDatasetError([p, "not an IDX file", "magic 0x68656c6c"]) { _ = try IDXFile(path: p) }
    }

    func testTruncatedDataSaysExpectedAndFound() {
        let p = path("short-idx3-ubyte.gz")
        // Declares 10×4×4 = 160 bytes, holds 100.
        Fixtures.writeGzip(Fixtures.idxBytes(magic: 0x803, dims: [10, 4, 4], data: Array(repeating: 7, count: 100)),
                           to: p)
        assertDatasetError([p, "truncated", "expected 160 bytes", "found 100"]) { _ = try IDXFile(path: p) }
    }

    func testTruncatedHeader() {
        let p = path("header-idx3-ubyte.gz")
        // Magic says 3 dimensions, only one follows.
        Fixtures.writeGzip([0, 0, 8, 3, 0, 0, 0, 9], to: p)
        assertDatasetError([p, "truncated IDX header", "expected 12", "found 4"]) { _ = try IDXFile(path: p) }
    }

    func testEmptyFile() {
        let p = path("empty.gz")
        Fixtures.writePlain([], to: p)
        assertDatasetError([p, "too short"]) { _ = try IDXFile(path: p) }
    }

    /// A gzip stream cut in the middle (an interrupted download) must not read as valid.
    func testCutGzipStream() throws {
        let data: [UInt8] = (0..<(50 * 784)).map { (i: Int) -> UInt8 in UInt8(truncatingIfNeeded: (i &* 7919) >> 5) }
        let whole = path("whole.gz")
        Fixtures.writeGzip(Fixtures.idxBytes(magic: 0x803, dims: [50, 28, 28], data: data), to: whole)
        let compressed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: whole)))
        let p = path("cut-idx3-ubyte.gz")
        Fixtures.writePlain(Array(compressed.prefix(compressed.count / 2)), to: p)
        assertDatasetError([p]) { _ = try IDXFile(path: p) }
    }

    func testZeroDimension() {
        let p = path("zero-idx3-ubyte.gz")
        Fixtures.writeGzip(Fixtures.idxBytes(magic: 0x803, dims: [5, 0, 28], data: []), to: p)
        assertDatasetError([p, "dimension 1 is 0", "[5, 0, 28]"]) { _ = try IDXFile(path: p) }
    }

    func testTrailingBytes() {
        let p = path("long-idx1-ubyte.gz")
        Fixtures.writeGzip(Fixtures.idxBytes(magic: 0x801, dims: [3], data: [1, 2, 3, 4]), to: p)
        assertDatasetError([p, "unexpected bytes after"]) { _ = try IDXFile(path: p) }
    }
}
