@testable import Persistence
import Engine
import Foundation
import TestSupport
import XCTest

/// The checkpoint file format: round trip, compression, and every kind of damage reported
/// without losing a good file.
final class CheckpointFileTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws { directory = try makeTemporaryDirectory(self).path }

    private func sample(_ count: Int = 4096, seed: UInt64 = 5) -> CheckpointFile {
        var rng = RandomGenerator(seed: seed)
        var file = CheckpointFile()
        // Weights the size and spread of a conv layer's, plus state of the other kinds.
        let w = Tensor.randn([count], rng: &rng).values.map { $0 * 0.05 }
        file.set("model.conv.weight", floats: w, shape: [count / 16, 16])
        file.set("state.json", bytes: Array(#"{"iteration": 1200}"#.utf8))
        file.set("rng.rank0", int64s: [1, -2, Int64.max])
        file.metadata = ["iteration": "1200", "config_hash": "e09bc3d131437c31"]
        return file
    }

    func testRoundTripKeepsEveryEntryAndTheMetadata() throws {
        let file = sample()
        let path = directory + "/a.ckpt"
        try file.write(to: path)
        let back = try CheckpointFile(contentsOf: path)
        XCTAssertEqual(back.entries, file.entries)
        XCTAssertEqual(back.metadata, file.metadata)
        XCTAssertEqual(try back.int64s("rng.rank0"), [1, -2, Int64.max])
        XCTAssertEqual(try back.floats("model.conv.weight"), try file.floats("model.conv.weight"))
        XCTAssertThrowsError(try back.floats("missing")) { XCTAssertTrue("\($0)".contains("no entry 'missing'"), "\($0)") }
        // No temporary file is left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["a.ckpt"])
    }

    func testBitShuffleCompressesFloatWeightsBetterThanPlainZstd() throws {
        let file = sample(65_536)
        let shuffled = try file.encoded(shuffle: true).sizes, plain = try file.encoded(shuffle: false).sizes
        XCTAssertEqual(shuffled.rawBytes, plain.rawBytes)
        XCTAssertLessThan(shuffled.storedBytes, plain.storedBytes)
        // Gaussian weights: plain zstd ≈ 1.08×, bit planes ≈ 1.15× (trained ResNet-20: 1.08 → 1.15).
        XCTAssertGreaterThan(shuffled.ratio, plain.ratio + 0.04, "shuffled \(shuffled.ratio)× vs plain \(plain.ratio)×")
        let bytes: [UInt8] = (0..<4099).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        XCTAssertEqual(bytes.withUnsafeBytes { BitShuffle.unshuffle(BitShuffle.shuffle($0)) }, bytes)
        // Bit b of word w lands in plane b: one word with only bit 31 set, among zeros.
        var words = [UInt32](repeating: 0, count: 16)
        words[9] = 1 << 31
        let planes = words.withUnsafeBytes { BitShuffle.shuffle($0) }
        XCTAssertEqual(planes.indices.filter { planes[$0] != 0 }, [31 * 2 + 1])
        XCTAssertEqual(planes[31 * 2 + 1], 1 << 1)
    }

    private func assertRejected(_ bytes: [UInt8], mentioning words: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try CheckpointFile(bytes: bytes, source: "x.ckpt"), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains("checkpoint 'x.ckpt'"), "\(error)", file: file, line: line)
            XCTAssertTrue("\(error)".contains(words), "\(error)", file: file, line: line)
        }
    }

    func testDamageIsReportedNotRead() throws {
        let good = try sample().encoded().bytes
        XCTAssertNoThrow(try CheckpointFile(bytes: good, source: "x.ckpt"))
        assertRejected([], mentioning: "is empty")
        assertRejected(Array(good.dropLast()), mentioning: "truncated")
        assertRejected(Array(good.prefix(30)), mentioning: "truncated")
        assertRejected(good + [0], mentioning: "unexpected bytes")
        var flippedFrame = good
        flippedFrame[good.count - 100] ^= 0x10
        assertRejected(flippedFrame, mentioning: "corrupted")
        var flippedManifest = good
        flippedManifest[CheckpointFile.headerLength + 5] ^= 0x01
        assertRejected(flippedManifest, mentioning: "corrupted manifest")
        var future = good
        future[8] = 2
        assertRejected(future, mentioning: "newer than this build")
        let foreign = try Data(contentsOf: URL(fileURLWithPath: goldenCasesDirectory + "/relu.safetensors"))
        assertRejected(Array(foreign), mentioning: "not a Concord checkpoint")
        XCTAssertThrowsError(try CheckpointFile(contentsOf: directory + "/none.ckpt")) { XCTAssertTrue("\($0)".contains("does not exist"), "\($0)") }
    }

    /// `good` with its manifest edited and its checksum made right again: what the checkpoint
    /// fuzz target feeds the reader.
    private func withManifest(_ good: [UInt8], _ edit: (inout [String: Any]) -> Void) throws -> [UInt8] {
        let length = Int(good[12]) | Int(good[13]) << 8 | Int(good[14]) << 16 | Int(good[15]) << 24
        let json = good[CheckpointFile.headerLength..<(CheckpointFile.headerLength + length)]
        var manifest = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])
        edit(&manifest)
        let edited = Array(try JSONSerialization.data(withJSONObject: manifest))
        var head = Array(good[0..<12])
        withUnsafeBytes(of: UInt32(edited.count).littleEndian) { head += $0 }
        withUnsafeBytes(of: StableHash.fnv1a64(edited).littleEndian) { head += $0 }
        return head + edited + good[(CheckpointFile.headerLength + length)...]
    }

    /// Manifest numbers that would overflow Int or make the reader allocate what the file
    /// cannot hold are errors, not traps (the checkpoint fuzz target's territory).
    func testManifestNumbersThatWouldOverflowOrOverAllocateAreErrors() throws {
        let good = try sample().encoded().bytes
        func edited(_ key: String, _ index: Int, _ field: String, _ value: Any) throws -> [UInt8] {
            try withManifest(good) { manifest in
                var list = manifest[key] as! [[String: Any]]
                list[index][field] = value
                manifest[key] = list
            }
        }
        assertRejected(try edited("entries", 0, "shape", [Int.max, 4]), mentioning: "inconsistent manifest record")
        assertRejected(try edited("entries", 0, "shape", [-1, -4]), mentioning: "inconsistent manifest record")
        assertRejected(try edited("entries", 0, "start", Int.max), mentioning: "inconsistent manifest record")
        assertRejected(try edited("frames", 0, "offset", Int.max), mentioning: "no file could hold")
        assertRejected(try edited("frames", 0, "stored", Int.max), mentioning: "no file could hold")
        assertRejected(try edited("frames", 0, "offset", 1 << 40), mentioning: "inconsistent manifest record")
        assertRejected(try edited("frames", 0, "bytes", Int.max), mentioning: "corrupted")
        // A 16-byte zstd frame that declares 1 TiB of content: refused before allocating it.
        var frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0xE0]
        withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { frame += $0 }
        frame += [0x03, 0x00, 0x00]
        XCTAssertThrowsError(try frame.withUnsafeBytes { try Zstd.decompress($0, size: 1 << 40) }) {
            XCTAssertTrue("\($0)".contains("cannot hold"), "\($0)")
        }
    }

    func testAFailedWriteLeavesTheGoodCheckpointIntact() throws {
        let path = directory + "/good.ckpt"
        try sample(seed: 1).write(to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try sample(seed: 2).write(to: directory + "/missing-dir/good.ckpt")) {
            XCTAssertTrue("\($0)".contains("cannot be written"), "\($0)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        // Overwriting replaces it whole.
        try sample(seed: 3).write(to: path)
        XCTAssertEqual(try CheckpointFile(contentsOf: path).entries, sample(seed: 3).entries)
    }

    /// A full disk (a 64 KiB tmpfs): the write fails with a message and the previous
    /// checkpoint stays readable. Needs root to mount.
    func testAFullDiskIsAClearErrorAndKeepsThePreviousCheckpoint() throws {
        try XCTSkipUnless(getuid() == 0, "skipped: mounting a small tmpfs to fill needs root")
        let mount = directory + "/small"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let mounted = Process()
        mounted.executableURL = URL(fileURLWithPath: "/bin/mount")
        mounted.arguments = ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mount]
        try mounted.run(); mounted.waitUntilExit()
        try XCTSkipUnless(mounted.terminationStatus == 0, "skipped: cannot mount a tmpfs here")
        defer {
            let u = Process(); u.executableURL = URL(fileURLWithPath: "/bin/umount"); u.arguments = [mount]
            try? u.run(); u.waitUntilExit()
        }
        let path = mount + "/latest.ckpt"
        try sample(1024).write(to: path)
        XCTAssertThrowsError(try sample(65_536).write(to: path)) { XCTAssertTrue("\($0)".contains("free disk space"), "\($0)") }
        XCTAssertEqual(try CheckpointFile(contentsOf: path).entries, sample(1024).entries)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mount), ["latest.ckpt"])
    }

    /// The writer streams the file in parts; checkpoints an earlier build wrote as one joined
    /// image (the resume fixtures) must come back byte for byte when read and written again.
    func testRewritingAnEarlierBuildsCheckpointGivesItsExactBytes() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("IntegrationTests/Fixtures")
        for name in ["format1-smoke-iter40.ckpt", "format1-moco-iter20.ckpt"] {
            let original = try Data(contentsOf: fixtures.appendingPathComponent(name))
            let file = try CheckpointFile(bytes: Array(original), source: name)
            let path = directory + "/" + name
            try file.write(to: path)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), original, name)
            XCTAssertEqual(try file.encoded().bytes, Array(original), name)
        }
    }
}
