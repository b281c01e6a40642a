import Config
import Datasets
import Foundation
import TestSupport
@testable import Training
import XCTest

/// Image folders through `TrainingData`: decoded once into the cache and mapped afterwards,
/// made again when a file changes; sizes, bad files and held-out splits.
final class TrainingDataTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws { scratch = try makeTemporaryDirectory(self) }

    /// `root/<class>/<i>.png`: class k's images are RGB, of level 20·k plus the index.
    private func folder(_ root: String, classes: Int = 3, perClass: Int = 4, size: (Int, Int) = (6, 6), channels: Int = 3) throws {
        for k in 0..<classes {
            try FileManager.default.createDirectory(atPath: "\(root)/c\(k)", withIntermediateDirectories: true)
            for i in 0..<perClass {
                var png = PNGImage(width: size.1, height: size.0, channels: channels)
                png.pixels = png.pixels.indices.map { UInt8((20 * k + i + $0) % 256) }
                try Data(png.encoded()).write(to: URL(fileURLWithPath: "\(root)/c\(k)/\(i).png"))
            }
        }
    }

    private func config(_ root: String) -> TrainConfig {
        var config = TrainConfig()
        config.data.format = .folder
        config.data.path = root
        config.run.dir = scratch.path + "/run"
        return config
    }

    private func log(_ data: TrainingData) -> String { data.notes.joined(separator: "\n") }

    func testAFolderIsDecodedOnceThenMappedAndMadeAgainWhenAFileChanges() throws {
        let root = scratch.path + "/images"
        try folder(root + "/train")
        try folder(root + "/test", perClass: 2)
        let first = try TrainingData(config: config(root))
        XCTAssertEqual([first.train.count, first.test.count, first.train.classCount], [12, 6, 3])
        XCTAssertEqual(first.shape, ImageShape(channels: 3, height: 6, width: 6))
        XCTAssertEqual(first.train.classNames, ["c0", "c1", "c2"])
        XCTAssertTrue(log(first).contains("decoded into the cache \(scratch.path)/run/data-cache/folder-train-"), log(first))
        // Image 5 is class 1's second: pixel j of its RGB planes is (20 + 1 + 3p + c) for pixel p, channel c.
        let image5 = Array(first.train.images[(5 * 108)..<(6 * 108)])
        XCTAssertEqual(image5[0..<3], [21, 24, 27], "the red plane of c1/1.png")
        XCTAssertEqual(image5[36], 22, "the green plane starts at the first pixel's green")
        let second = try TrainingData(config: config(root))
        XCTAssertTrue(log(second).contains("12 images of image folder '\(root)/train' mapped from the cache"), log(second))
        XCTAssertEqual(Array(second.train.images), Array(first.train.images))
        XCTAssertEqual(second.train.labels, first.train.labels)
        Thread.sleep(forTimeInterval: 0.01)
        try folder(root + "/train", classes: 1, perClass: 1, size: (6, 6), channels: 1)   // c0/0.png rewritten, gray
        let third = try TrainingData(config: config(root))
        XCTAssertTrue(log(third).contains("made again (it was made from other files or settings)"), log(third))
        XCTAssertEqual(Array(third.train.images[0..<3]), [0, 1, 2], "c0/0.png is gray now, in every plane")
        XCTAssertEqual(Array(third.train.images[36..<39]), [0, 1, 2])
    }

    func testMixedSizesNeedImageSizeAndAreThenResized() throws {
        let root = scratch.path + "/mixed"
        try folder(root, classes: 2, perClass: 2, size: (6, 6))
        try folder(root, classes: 1, perClass: 1, size: (5, 9))   // c0/0.png is 9×5 now
        var c = config(root)
        c.data.testFraction = 0.25
        XCTAssertThrowsError(try TrainingData(config: c)) { error in
            XCTAssertTrue("\(error)".contains("'c0/0.png' is 9×5 but 'c0/1.png' is 6×6; set data.image_size"), "\(error)")
        }
        c.data.imageSize = 4
        let data = try TrainingData(config: c)
        XCTAssertEqual(data.shape, ImageShape(channels: 3, height: 4, width: 4))
        XCTAssertEqual(data.train.count + data.test.count, 4)
    }

    func testBadImagesStopTheRunUnlessSkippingIsAskedForThenAreCounted() throws {
        let root = scratch.path + "/bad"
        try folder(root, classes: 2, perClass: 3)
        try Data("oops".utf8).write(to: URL(fileURLWithPath: root + "/c1/1.png"))
        var c = config(root)
        c.data.testFraction = 0.2
        XCTAssertThrowsError(try TrainingData(config: c)) { error in
            XCTAssertTrue("\(error)".contains("image '\(root)/c1/1.png': neither PNG nor JPEG"), "\(error)")
        }
        c.data.skipBadImages = true
        let data = try TrainingData(config: c)
        XCTAssertEqual(data.train.count + data.test.count, 5)
        XCTAssertTrue(log(data).contains("1 image(s) of '\(root)' skipped (data.skip_bad_images); the first: image '\(root)/c1/1.png'"), log(data))
    }

    func testAHeldOutSplitIsDrawnFromTheSeedAndKeepsTheOrder() throws {
        let root = scratch.path + "/split"
        try folder(root, classes: 4, perClass: 5)
        var c = config(root)
        XCTAssertThrowsError(try TrainingData(config: c)) { error in
            XCTAssertTrue("\(error)".contains("comes without a test set"), "\(error)")
        }
        c.data.testFraction = 0.25
        let a = try TrainingData(config: c), b = try TrainingData(config: c)
        XCTAssertEqual([a.train.count, a.test.count], [15, 5])
        XCTAssertEqual(a.test.labels, b.test.labels)
        XCTAssertEqual(Array(a.test.images), Array(b.test.images))
        XCTAssertEqual(a.train.labels, a.train.labels.sorted(), "each split keeps the folder's order")
        XCTAssertTrue(log(a).contains("5 of 20 training images held out as the test set"), log(a))
        c.data.splitSeed = 1
        XCTAssertNotEqual(try TrainingData(config: c).test.images.elementsEqual(a.test.images), true, "another seed, another split")
        c.data.testFraction = 0.01
        XCTAssertThrowsError(try TrainingData(config: c)) { error in
            XCTAssertTrue("\(error)".contains("data.test_fraction 0.01 of 20 images leaves 0 test"), "\(error)")
        }
    }
}
