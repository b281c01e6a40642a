import Datasets
import Foundation
import TestSupport
import XCTest

/// CIFAR binary batches, NumPy arrays and archives, and the IDX reader's EMNIST orientation:
/// files written here from the formats' specifications, read back, and every kind of bad file
/// reported as one line naming it.
final class DataSourceTests: XCTestCase {
    private var dir: String!

    override func setUpWithError() throws { dir = try makeTemporaryDirectory(self).path }

    /// Image i of a CIFAR fixture: pixel p of plane c is (i + 3c + p) mod 256.
    private func cifarPixels(_ i: Int) -> [UInt8] { (0..<3072).map { UInt8((i + 3 * ($0 / 1024) + $0 % 1024) % 256) } }

    func testCIFAR10BatchesAreReadPlanarWithTheirLabelsAndNames() throws {
        for b in 1...5 {
            try DataFiles.write(DataFiles.cifar10Batch(labels: [b % 10, (b + 1) % 10]) { self.cifarPixels(2 * (b - 1) + $0) },
                                to: dir + "/data_batch_\(b).bin")
        }
        try DataFiles.write(DataFiles.cifar10Batch(labels: [7]) { self.cifarPixels(100 + $0) }, to: dir + "/test_batch.bin")
        try "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n".write(toFile: dir + "/batches.meta.txt", atomically: true, encoding: .utf8)
        let train = try CIFAR.load(train: true, directory: dir)
        XCTAssertEqual(train.shape, ImageShape(channels: 3, height: 32, width: 32))
        XCTAssertEqual(train.labels, [1, 2, 2, 3, 3, 4, 4, 5, 5, 6])
        XCTAssertEqual(train.classNames[7], "horse")
        XCTAssertEqual(Array(train.images[(3 * 3072)..<(4 * 3072)]), cifarPixels(3))
        let test = try CIFAR.load(train: false, directory: dir)
        XCTAssertEqual(test.labels, [7])
        XCTAssertEqual(Array(test.images), cifarPixels(100))

        try FileManager.default.removeItem(atPath: dir + "/data_batch_3.bin")
        assertError(DatasetError.self, try CIFAR.load(train: true, directory: dir), contains: ["data_batch_3.bin", "missing"])
        try DataFiles.write(Array(DataFiles.cifar10Batch(labels: [1]) { self.cifarPixels($0) }.dropLast(10)), to: dir + "/test_batch.bin")
        assertError(DatasetError.self, try CIFAR.load(train: false, directory: dir), contains: ["test_batch.bin", "not a whole number", "3073"])
        try DataFiles.write(DataFiles.cifar10Batch(labels: [12]) { self.cifarPixels($0) }, to: dir + "/test_batch.bin")
        assertError(DatasetError.self, try CIFAR.load(train: false, directory: dir), contains: ["test_batch.bin", "label 12", "0..<10"])
        assertError(DatasetError.self, try CIFAR.load(train: true, directory: dir + "/nowhere"), contains: ["nowhere", "not found"])
    }

    func testCIFAR100ReadsFineOrCoarseLabels() throws {
        let record = { (coarse: Int, fine: Int, i: Int) in [UInt8(coarse), UInt8(fine)] + self.cifarPixels(i) }
        try DataFiles.write(record(3, 42, 0) + record(19, 99, 1), to: dir + "/train.bin")
        try DataFiles.write(record(0, 5, 2), to: dir + "/test.bin")
        XCTAssertEqual(try CIFAR.load(train: true, directory: dir).labels, [42, 99])
        let coarse = try CIFAR.load(train: true, directory: dir, labels: .coarse)
        XCTAssertEqual(coarse.labels, [3, 19])
        XCTAssertEqual(coarse.classCount, 20)
        XCTAssertEqual(Array(coarse.images[3072..<6144]), cifarPixels(1))
    }

    func testNumPyImagesInEveryLayoutGiveTheSamePlanarPixels() throws {
        // Two 2×4 RGB images; value = 100·image + 10·channel + pixel.
        let (n, h, w, c) = (2, 2, 4, 3)
        let planar = (0..<(n * c * h * w)).map { UInt8(100 * ($0 / (c * h * w)) + 10 * ($0 / (h * w) % c) + $0 % (h * w)) }
        var channelsLast = [UInt8](repeating: 0, count: planar.count)
        for i in 0..<n { for ch in 0..<c { for p in 0..<(h * w) { channelsLast[i * c * h * w + p * c + ch] = planar[i * c * h * w + ch * h * w + p] } } }
        let labels = DataFiles.npy(descr: "<i8", shape: [2], data: [3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
        try DataFiles.write(DataFiles.npy(descr: "|u1", shape: [n, c, h, w], data: planar), to: dir + "/nchw.npy")
        try DataFiles.write(labels, to: dir + "/labels.npy")
        let floats = channelsLast.flatMap { withUnsafeBytes(of: Float($0) / 255) { Array($0) } }
        try DataFiles.write(DataFiles.npz([("x", DataFiles.npy(descr: "<f4", shape: [n, h, w, c], data: floats)), ("y", labels)]),
                            to: dir + "/data.npz")
        let a = try NumPyImages.dataset(images: NumPyArray(contentsOf: dir + "/nchw.npy"), labels: NumPyArray(contentsOf: dir + "/labels.npy"))
        let archive = try NumPyArchive(contentsOf: dir + "/data.npz")
        XCTAssertEqual(archive.names, ["x", "y"])
        let b = try NumPyImages.dataset(images: archive.array("x"), labels: archive.array("y"))
        // savez_compressed's deflated members: gzip's stream without its 10-byte header and 8-byte trailer.
        try DataFiles.write(DataFiles.npz([("x", DataFiles.npy(descr: "<f4", shape: [n, h, w, c], data: floats)), ("y", labels)]) {
            Array(Fixtures.gzip(["-c", "-n", "-9"], input: $0).dropFirst(10).dropLast(8))
        }, to: dir + "/deflated.npz")
        let deflated = try NumPyArchive(contentsOf: dir + "/deflated.npz")
        XCTAssertEqual(Array(try NumPyImages.dataset(images: deflated.array("x"), labels: deflated.array("y")).images), planar)
        XCTAssertEqual(a.shape, ImageShape(channels: 3, height: 2, width: 4))
        XCTAssertEqual(b.shape, a.shape)
        XCTAssertEqual(Array(a.images), planar)
        XCTAssertEqual(Array(b.images), planar)
        XCTAssertEqual(a.labels, [3, 1])
        XCTAssertEqual(a.classCount, 4)
    }

    func testBadNumPyFilesAreOneLineNamingTheFile() throws {
        let labels = DataFiles.npy(descr: "|u1", shape: [2], data: [0, 1])
        func check(_ name: String, _ images: [UInt8], labels: [UInt8] = labels, _ parts: [String]) throws {
            try DataFiles.write(images, to: dir + "/" + name)
            try DataFiles.write(labels, to: dir + "/l-" + name)
            assertError(DatasetError.self, try NumPyImages.dataset(images: NumPyArray(contentsOf: dir + "/" + name),
                                                                   labels: NumPyArray(contentsOf: dir + "/l-" + name)),
                        contains: [name] + parts)
        }
        try check("text.npy", Array("not numpy".utf8), ["not a NumPy .npy array"])
        try check("f8.npy", DataFiles.npy(descr: "<f8", shape: [2, 1, 1], data: [UInt8](repeating: 0, count: 16)), ["float64", "uint8"])
        try check("be.npy", DataFiles.npy(descr: ">f4", shape: [2, 1, 1], data: [UInt8](repeating: 0, count: 8)), ["'>f4'", "little-endian"])
        try check("cut.npy", Array(DataFiles.npy(descr: "|u1", shape: [2, 4, 4], data: [UInt8](repeating: 0, count: 32)).dropLast(5)), ["truncated"])
        try check("rank2.npy", DataFiles.npy(descr: "|u1", shape: [2, 16], data: [UInt8](repeating: 0, count: 32)), ["rank 2", "[N, H, W]"])
        try check("fortran.npy", DataFiles.npy(descr: "|u1", shape: [2, 2, 2], data: [UInt8](repeating: 0, count: 8), fortran: true), ["Fortran"])
        try check("count.npy", DataFiles.npy(descr: "|u1", shape: [3, 1, 1], data: [0, 0, 0]), ["2 labels for the 3 images"])
        try check("neg.npy", DataFiles.npy(descr: "|u1", shape: [2, 1, 1], data: [0, 0]),
                  labels: DataFiles.npy(descr: "|i1", shape: [2], data: [0, 0xFF]), ["label -1", "negative"])
        try check("flabel.npy", DataFiles.npy(descr: "|u1", shape: [2, 1, 1], data: [0, 0]),
                  labels: DataFiles.npy(descr: "<f4", shape: [2], data: [UInt8](repeating: 0, count: 8)), ["labels must be integers"])
        let big = withUnsafeBytes(of: Float(3)) { Array($0) } + withUnsafeBytes(of: Float(0)) { Array($0) }
        try check("range.npy", DataFiles.npy(descr: "<f4", shape: [2, 1, 1], data: big), ["outside 0…1"])
        let nan = withUnsafeBytes(of: Float.nan) { Array($0) } + withUnsafeBytes(of: Float(0)) { Array($0) }
        try check("nan.npy", DataFiles.npy(descr: "<f4", shape: [2, 1, 1], data: nan), ["nan", "outside 0…1"])
        try check("huge.npy", DataFiles.npy(descr: "|u1", shape: [2, 1, 1], data: [0, 0]),
                  labels: DataFiles.npy(descr: "<i4", shape: [2], data: [0, 0, 0, 0, 0, 0, 0, 0x70]), ["label 1879048192", "outside 0..<65536"])
        try check("ambiguous.npy", DataFiles.npy(descr: "|u1", shape: [2, 3, 4, 3], data: [UInt8](repeating: 0, count: 72)), ["data.layout"])
        // Archives: a missing member, a damaged member, not a ZIP at all.
        let good = DataFiles.npz([("images", DataFiles.npy(descr: "|u1", shape: [2, 1, 1], data: [1, 2]))])
        try DataFiles.write(good, to: dir + "/a.npz")
        assertError(DatasetError.self, try NumPyArchive(contentsOf: dir + "/a.npz").array("labels"), contains: ["a.npz", "no array 'labels'", "images"])
        var flipped = good
        flipped[flipped.count - 200] ^= 0xFF   // inside the member's data
        try DataFiles.write(flipped, to: dir + "/b.npz")
        XCTAssertThrowsError(try NumPyArchive(contentsOf: dir + "/b.npz").array("images")) { XCTAssertTrue("\($0)".contains("b.npz"), "\($0)") }
        try DataFiles.write(Array("PK but not really a zip archive at all".utf8), to: dir + "/c.npz")
        assertError(DatasetError.self, try NumPyArchive(contentsOf: dir + "/c.npz"), contains: ["c.npz", "ZIP"])
    }

    /// Empty files, the first inputs `launch/fuzz numpy` and `launch/fuzz cifar` reported (as a
    /// leak inside Foundation's reader, now bypassed by `FileBytes`): each is one line naming it.
    func testEmptyFilesAreOneLineErrorsNamingThem() throws {
        for name in ["empty.npy", "empty.npz", "test_batch.bin", "empty.png", "empty-idx3-ubyte"] {
            try DataFiles.write([], to: dir + "/" + name)
        }
        assertError(DatasetError.self, try NumPyArray(contentsOf: dir + "/empty.npy"), contains: ["empty.npy"])
        assertError(DatasetError.self, try NumPyArchive(contentsOf: dir + "/empty.npz"), contains: ["empty.npz", "ZIP"])
        assertError(DatasetError.self, try CIFAR.load(train: false, directory: dir), contains: ["test_batch.bin", "not a whole number"])
        assertError(DatasetError.self, try ImageDecoder().decode(contentsOf: dir + "/empty.png"), contains: ["empty.png"])
        assertError(DatasetError.self, try IDXFile(path: dir + "/empty-idx3-ubyte"), contains: ["empty-idx3-ubyte"])
        // An empty class-name file next to a good batch.
        try DataFiles.write(DataFiles.cifar10Batch(labels: [4]) { self.cifarPixels($0) }, to: dir + "/test_batch.bin")
        try DataFiles.write([], to: dir + "/batches.meta.txt")
        assertError(DatasetError.self, try CIFAR.load(train: false, directory: dir), contains: ["batches.meta.txt", "0 class names"])
    }

    /// EMNIST's files hold each glyph transposed; `transpose` turns it upright.
    func testIDXImagesCanBeReadTransposed() throws {
        let stored: [UInt8] = [1, 2, 3, 4, 5, 6]   // one 2×3 image as stored
        try DataFiles.write(Fixtures.idxBytes(magic: 0x803, dims: [1, 2, 3], data: stored), to: dir + "/i")
        try DataFiles.write(Fixtures.idxBytes(magic: 0x801, dims: [1], data: [4]), to: dir + "/l")
        let upright = try IDXImages.load(images: dir + "/i", labels: dir + "/l", transpose: true)
        XCTAssertEqual([upright.height, upright.width], [3, 2])
        XCTAssertEqual(Array(upright.images), [1, 4, 2, 5, 3, 6])
        XCTAssertEqual(upright.classCount, 5, "classes 0…4 when none are named")
        XCTAssertEqual(Array(try IDXImages.load(images: dir + "/i", labels: dir + "/l").images), stored)
        assertError(DatasetError.self, try IDXImages.load(images: dir + "/i", labels: dir + "/l", classNames: ["a", "b"]),
                    contains: [dir + "/l", "label 4", "0..<2"])
    }
}
