import Datasets
import Foundation
import TestSupport
import XCTest

final class FashionMNISTTests: XCTestCase {
    private let realDirectory = FashionMNIST.defaultDirectory

    // MARK: The installed data set

    func testTrainSplitLoadsAndMatchesTheRawBytes() throws {
        let train = try FashionMNIST.load(split: .train)
        XCTAssertEqual(train.count, 60_000)
        XCTAssertEqual(train.images.count, 60_000 * 28 * 28)
        XCTAssertEqual(train.height, 28)
        XCTAssertEqual(train.width, 28)

        // Read the files' first bytes directly (header 8 / 16 bytes), not through IDXFile.
        let labelHead = Fixtures.readGzipPrefix(realDirectory + "/train-labels-idx1-ubyte.gz", count: 8 + 100)
        XCTAssertEqual(Array(labelHead.prefix(8)), [0, 0, 8, 1, 0, 0, 0xEA, 0x60])  // 0x801, 60000
        XCTAssertEqual(labelHead[8], 9, "the first training image is an ankle boot")
        XCTAssertEqual(train.labels[0], 9)
        XCTAssertEqual(FashionMNIST.classNames[train.labels[0]], "Ankle boot")
        XCTAssertEqual(Array(train.labels.prefix(100)), labelHead.dropFirst(8).map(Int.init))

        let imageHead = Fixtures.readGzipPrefix(realDirectory + "/train-images-idx3-ubyte.gz", count: 16 + 2 * 784)
        XCTAssertEqual(Array(imageHead.prefix(16)), [0, 0, 8, 3, 0, 0, 0xEA, 0x60, 0, 0, 0, 28, 0, 0, 0, 28])
        XCTAssertEqual(Array(train.images.prefix(2 * 784)), Array(imageHead.dropFirst(16)))

        // Fashion-MNIST is balanced: 6000 images per class in train.
        var histogram = [Int](repeating: 0, count: 10)
        for label in train.labels { histogram[label] += 1 }
        XCTAssertEqual(histogram, [Int](repeating: 6_000, count: 10))
    }

    func testTestSplitLoads() throws {
        let test = try FashionMNIST.load(split: .test)
        XCTAssertEqual(test.count, 10_000)
        XCTAssertEqual(test.images.count, 10_000 * 784)
        let labelHead = Fixtures.readGzipPrefix(realDirectory + "/t10k-labels-idx1-ubyte.gz", count: 8 + 20)
        XCTAssertEqual(Array(test.labels.prefix(20)), labelHead.dropFirst(8).map(Int.init))
    }

    /// The reference's constants describe the real pixels (to the 4 digits it quotes).
    func testNormalisationConstantsFitTheTrainPixels() throws {
        let train = try FashionMNIST.load(split: .train)
        // Exact integer sums over the raw buffer (a per-byte collection walk takes 18 s in debug).
        let (sum, sumSquares) = train.images.withUnsafeBufferPointer { pixels in
            pixels.reduce(into: (UInt64(0), UInt64(0))) { totals, p in totals.0 += UInt64(p); totals.1 += UInt64(p) * UInt64(p) }
        }
        let n = Double(train.images.count)
        let mean = Double(sum) / n / 255
        let std = (Double(sumSquares) / n / (255 * 255) - mean * mean).squareRoot()
        XCTAssertEqual(mean, Double(FashionMNIST.mean), accuracy: 5e-4)
        XCTAssertEqual(std, Double(FashionMNIST.std), accuracy: 5e-4)
    }

    // MARK: Synthetic directories

    private func writeSplit(in dir: URL, prefix: String = "train", images: Int, labels: [UInt8],
                            rows: UInt32 = 28, gzip: Bool = true) {
        let pixels = (0..<(images * Int(rows) * 28)).map { UInt8($0 % 251) }
        let suffix = gzip ? ".gz" : ""
        let imageBytes = Fixtures.idxBytes(magic: 0x803, dims: [UInt32(images), rows, 28], data: pixels)
        let labelBytes = Fixtures.idxBytes(magic: 0x801, dims: [UInt32(labels.count)], data: labels)
        let imagePath = dir.appendingPathComponent("\(prefix)-images-idx3-ubyte\(suffix)").path
        let labelPath = dir.appendingPathComponent("\(prefix)-labels-idx1-ubyte\(suffix)").path
        if gzip {
            Fixtures.writeGzip(imageBytes, to: imagePath)
            Fixtures.writeGzip(labelBytes, to: labelPath)
        } else {
            Fixtures.writePlain(imageBytes, to: imagePath)
            Fixtures.writePlain(labelBytes, to: labelPath)
        }
    }

    func testSyntheticSplitLoads() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        writeSplit(in: dir, prefix: "t10k", images: 3, labels: [4, 0, 9])
        let data = try FashionMNIST.load(split: .test, directory: dir.path)
        XCTAssertEqual(data.count, 3)
        XCTAssertEqual(data.labels, [4, 0, 9])
        XCTAssertEqual(data.images[785], UInt8(785 % 251))
    }

    func testUnpackedFilesAreFound() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        writeSplit(in: dir, images: 2, labels: [1, 2], gzip: false)
        XCTAssertEqual(try FashionMNIST.load(split: .train, directory: dir.path).labels, [1, 2])
    }

    func testMissingDirectorySuggestsSetupAndDataPath() {
        let missing = "/nonexistent/concord-fashion-mnist"
        assertDatasetError([missing, "launch/setup", "dataset-fashion-mnist", "data.path"]) {
            _ = try FashionMNIST.load(split: .train, directory: missing)
        }
    }

    func testMissingLabelsFileIsNamed() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        writeSplit(in: dir, images: 2, labels: [1, 2])
        let labels = dir.appendingPathComponent("train-labels-idx1-ubyte.gz").path
        try FileManager.default.removeItem(atPath: labels)
        assertDatasetError([labels, "not found", "launch/setup", "data.path"]) {
            _ = try FashionMNIST.load(split: .train, directory: dir.path)
        }
    }

    func testCountMismatch() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        writeSplit(in: dir, images: 3, labels: [1, 2])
        assertDatasetError(["train-labels-idx1-ubyte.gz", "2 labels for 3 images"]) {
            _ = try FashionMNIST.load(split: .train, directory: dir.path)
        }
    }

    func testLabelOutOfRange() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        writeSplit(in: dir, images: 3, labels: [1, 10, 2])
        assertDatasetError(["train-labels-idx1-ubyte.gz", "label 10 at index 1"]) {
            _ = try FashionMNIST.load(split: .train, directory: dir.path)
        }
    }

    func testWrongImageSize() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        writeSplit(in: dir, images: 2, labels: [1, 2], rows: 32)
        assertDatasetError(["train-images-idx3-ubyte.gz", "32×28"]) {
            _ = try FashionMNIST.load(split: .train, directory: dir.path)
        }
    }

    func testSwappedFilesAreCaught() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let images = dir.appendingPathComponent("train-images-idx3-ubyte.gz").path
        let labels = dir.appendingPathComponent("train-labels-idx1-ubyte.gz").path
        Fixtures.writeGzip(Fixtures.idxBytes(magic: 0x801, dims: [2], data: [1, 2]), to: images)
        Fixtures.writeGzip(Fixtures.idxBytes(magic: 0x801, dims: [2], data: [1, 2]), to: labels)
        assertDatasetError([images, "expected 3-d images"]) {
            _ = try FashionMNIST.load(split: .train, directory: dir.path)
        }
    }

    func testInMemoryDataSet() {
        let data = ImageDataset(images: [UInt8](repeating: 3, count: 2 * 4 * 5), labels: [0, 7], height: 4, width: 5)
        XCTAssertEqual(data.count, 2)
        XCTAssertEqual(data.pixelsPerImage, 20)
    }
}
