import Datasets
import Foundation
import TestSupport
import XCTest

/// torchvision `ImageFolder`'s order and refusals, and the cache file's format.
final class ImageFolderTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws { scratch = try makeTemporaryDirectory(self) }

    private func touch(_ relative: String, _ bytes: [UInt8] = PNGImage(width: 2, height: 2).encoded()) throws {
        let url = scratch.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    /// The order `sorted(os.walk(...))` and `sorted(fnames)` give, worked out by hand:
    /// classes by code point ("Zebra" < "ant"), folders by full path ("a-c" < "a/b" since
    /// '-' < '/'), extensions in any case, other files ignored.
    func testClassesAndFilesFollowTorchvisionsOrder() throws {
        for name in ["ant/b.png", "ant/a.JPG", "ant/a/b/z.jpeg", "ant/a/y.png", "ant/a-c/x.png", "ant/notes.txt",
                     "Zebra/1.png", "Zebra/10.png", "Zebra/2.png"] { try touch(name) }
        let folder = try ImageFolder(root: scratch.path)
        XCTAssertEqual(folder.classNames, ["Zebra", "ant"])
        XCTAssertEqual(folder.files, ["Zebra/1.png", "Zebra/10.png", "Zebra/2.png", "ant/a.JPG", "ant/b.png",
                                      "ant/a/y.png", "ant/a-c/x.png", "ant/a/b/z.jpeg"])
        XCTAssertEqual(folder.labels, [0, 0, 0, 1, 1, 1, 1, 1])
        // A test folder takes the training set's labels; a class it lacks is fine.
        let test = try ImageFolder(root: scratch.path + "/ant/..", classNames: ["ant", "Zebra", "cat"])
        XCTAssertEqual(test.labels, [1, 1, 1, 0, 0, 0, 0, 0])
    }

    func testTheFingerprintChangesWhenAnImageDoes() throws {
        try touch("a/1.png")
        try touch("b/1.png")
        let before = try ImageFolder(root: scratch.path).fingerprint
        XCTAssertEqual(try ImageFolder(root: scratch.path).fingerprint, before)
        try touch("b/1.png", PNGImage(width: 3, height: 2).encoded())
        XCTAssertNotEqual(try ImageFolder(root: scratch.path).fingerprint, before)
    }

    func testFoldersThatCannotBeADataSetAreRefused() throws {
        let root = scratch.path
        func refusal(_ classNames: [String]? = nil, at path: String? = nil) -> String {
            do { _ = try ImageFolder(root: path ?? root, classNames: classNames); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertTrue(refusal(at: root + "/nowhere").contains("image folder '\(root)/nowhere' does not exist"))
        try touch("loose.png")
        XCTAssertTrue(refusal().contains("has no class folders"), refusal())
        try touch("cat/1.png")
        try FileManager.default.createDirectory(atPath: root + "/dog/empty", withIntermediateDirectories: true)
        try touch("dog/readme.txt")
        XCTAssertTrue(refusal().contains("image folder '\(root)/dog' holds no .png, .jpg or .jpeg files"), refusal())
        try touch("dog/1.jpg")
        XCTAssertTrue(refusal(["cat"]).contains("'\(root)/dog': a class the training set does not have"), refusal(["cat"]))
        XCTAssertEqual(refusal(), "accepted")
    }

    func testACacheFileReadsBackAndADamagedOneIsNotUsed() throws {
        let header = ImageCacheFile.Header(key: "k1", count: 3, shape: ImageShape(channels: 3, height: 2, width: 2), classNames: ["a", "b"],
                                           skipped: ["x.png: damaged"])
        let pixels = (0..<36).map { UInt8($0 * 7 % 256) }
        let path = scratch.path + "/set.images"
        let bytes = ImageCacheFile.prefix(header: header, labels: [1, 0, 1]) + pixels
        XCTAssertEqual(ImageCacheFile.prefix(header: header, labels: [1, 0, 1]).count % 64, 0, "pixels start aligned")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        var problem: String?
        let opened = try XCTUnwrap(ImageCacheFile.open(path, key: "k1", problem: &problem))
        XCTAssertEqual(opened.header, header)
        XCTAssertEqual(opened.dataset.labels, [1, 0, 1])
        XCTAssertEqual(Array(opened.dataset.images), pixels)
        XCTAssertNil(ImageCacheFile.open(path, key: "k2", problem: &problem))
        XCTAssertEqual(problem, "it was made from other files or settings")
        try Data(bytes.dropLast()).write(to: URL(fileURLWithPath: path))
        XCTAssertNil(ImageCacheFile.open(path, key: "k1", problem: &problem))
        XCTAssertTrue(problem?.contains("not what its header describes") == true, problem ?? "")
        problem = nil
        XCTAssertNil(ImageCacheFile.open(scratch.path + "/absent.images", key: nil, problem: &problem))
        XCTAssertNil(problem, "a missing cache is no problem, only absent")
    }
}
