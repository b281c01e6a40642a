import Foundation

/// The Fashion-MNIST data set (or any in-memory set of uint8 grey images with labels 0..<10).
///
/// Images stay as raw bytes — 47 MB for the train split instead of 188 MB as Float — and
/// are normalised per batch by `Augmentation` while the loader copies them into a tensor.
public struct FashionMNIST: Sendable {
    /// Which part of the data set to load.
    public enum Split: String, Sendable, CaseIterable {
        /// 60 000 training images (`train-*`).
        case train
        /// 10 000 test images (`t10k-*`).
        case test

        /// File-name prefix used by the distribution.
        public var filePrefix: String { self == .train ? "train" : "t10k" }
    }

    /// Where the Debian package `dataset-fashion-mnist` installs the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    /// Mean of the training pixels in [0, 1] (same constant as the PyTorch reference).
    public static let mean: Float = 0.2860
    /// Standard deviation of the training pixels in [0, 1] (same as the PyTorch reference).
    public static let std: Float = 0.3530
    /// Number of classes.
    public static let classCount = 10
    /// Images in the training split (the test split has 10 000).
    public static let trainCount = 60_000
    /// Class names, indexed by label.
    public static let classNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    /// Image height in pixels (28 for Fashion-MNIST).
    public let height: Int
    /// Image width in pixels (28 for Fashion-MNIST).
    public let width: Int
    /// Pixels, 0 = background. images: [count, height, width]
    public let images: [UInt8]
    /// Class of each image, each in 0..<`classCount`. labels: [count]
    public let labels: [Int]

    /// Number of images.
    public var count: Int { labels.count }
    /// Pixels per image.
    public var pixelsPerImage: Int { height * width }

    /// File names of a split, compressed form (`train-images-idx3-ubyte.gz`, …).
    public static func fileNames(for split: Split) -> (images: String, labels: String) {
        ("\(split.filePrefix)-images-idx3-ubyte.gz", "\(split.filePrefix)-labels-idx1-ubyte.gz")
    }

    /// Loads a split from `directory` (the `.gz` files, or unpacked ones without `.gz`).
    /// - Throws: `DatasetError` naming the missing or bad file and how to fix it.
    public init(split: Split, directory: String = FashionMNIST.defaultDirectory) throws {
        let names = Self.fileNames(for: split)
        let imagesPath = try Self.locate(names.images, in: directory)
        let labelsPath = try Self.locate(names.labels, in: directory)

        let imageFile = try IDXFile(path: imagesPath)
        guard imageFile.magic == IDXFile.imagesMagic else {
            throw DatasetError("\(imagesPath): holds 1-d data \(IDXFile.shapeText(imageFile.dimensions)), "
                            + "expected 3-d images (magic 0x00000803); is it a labels file under the wrong name?")
        }
        let labelFile = try IDXFile(path: labelsPath)
        guard labelFile.magic == IDXFile.labelsMagic else {
            throw DatasetError("\(labelsPath): holds 3-d data \(IDXFile.shapeText(labelFile.dimensions)), "
                            + "expected 1-d labels (magic 0x00000801); is it an images file under the wrong name?")
        }
        let dims = imageFile.dimensions
        guard dims[1] == 28, dims[2] == 28 else {
            throw DatasetError("\(imagesPath): images are \(dims[1])×\(dims[2]), Fashion-MNIST's are 28×28; "
                            + "point data.path at a Fashion-MNIST directory")
        }
        guard labelFile.itemCount == imageFile.itemCount else {
            throw DatasetError("\(labelsPath): \(labelFile.itemCount) labels for \(imageFile.itemCount) images in "
                            + "\(imagesPath); the two files must come from the same split — reinstall them")
        }
        var labels = [Int](repeating: 0, count: labelFile.itemCount)
        for (i, byte) in labelFile.bytes.enumerated() {
            guard Int(byte) < Self.classCount else {
                throw DatasetError("\(labelsPath): label \(byte) at index \(i) is not a class "
                                + "(0..<\(Self.classCount)); the file is corrupt — reinstall it")
            }
            labels[i] = Int(byte)
        }
        self.height = dims[1]
        self.width = dims[2]
        self.images = imageFile.bytes
        self.labels = labels
    }

    /// Wraps images already in memory (synthetic data, tests, subsets).
    ///
    /// - Precondition: `images.count == labels.count * height * width`, labels in 0..<10.
    public init(images: [UInt8], labels: [Int], height: Int = 28, width: Int = 28) {
        precondition(height > 0 && width > 0, "image size \(height)×\(width)")
        precondition(images.count == labels.count * height * width,
                     "\(images.count) pixels for \(labels.count) images of \(height)×\(width)")
        precondition(labels.allSatisfy { (0..<Self.classCount).contains($0) }, "label outside 0..<10")
        self.images = images
        self.labels = labels
        self.height = height
        self.width = width
    }

    /// The path of `name` in `directory`, falling back to the unpacked name without `.gz`.
    private static func locate(_ name: String, in directory: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory),
              isDirectory.boolValue else {
            throw DatasetError("\(directory): Fashion-MNIST directory not found; run launch/setup (installs "
                            + "the Debian package dataset-fashion-mnist) or set data.path to the directory "
                            + "holding \(name)")
        }
        let base = URL(fileURLWithPath: directory)
        let compressed = base.appendingPathComponent(name).path
        if FileManager.default.fileExists(atPath: compressed) { return compressed }
        let plain = base.appendingPathComponent(String(name.dropLast(3))).path
        if FileManager.default.fileExists(atPath: plain) { return plain }
        throw DatasetError("\(compressed): Fashion-MNIST file not found; run launch/setup (installs the Debian "
                        + "package dataset-fashion-mnist) or set data.path to a directory that holds it")
    }
}
