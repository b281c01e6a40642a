import Foundation

/// The Fashion-MNIST data set: its files, constants and loader (`load(split:directory:)`), which
/// gives an `ImageDataset` of 1×28×28 images in 10 classes.
public enum FashionMNIST {
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

    /// File names of a split, compressed form (`train-images-idx3-ubyte.gz`, …).
    public static func fileNames(for split: Split) -> (images: String, labels: String) {
        ("\(split.filePrefix)-images-idx3-ubyte.gz", "\(split.filePrefix)-labels-idx1-ubyte.gz")
    }

    /// Loads a split from `directory` (the `.gz` files, or unpacked ones without `.gz`).
    /// - Throws: `DatasetError` naming the missing or bad file and how to fix it.
    public static func load(split: Split, directory: String = FashionMNIST.defaultDirectory) throws -> ImageDataset {
        let names = Self.fileNames(for: split)
        let imagesPath = try Self.locate(names.images, in: directory)
        let labelsPath = try Self.locate(names.labels, in: directory)

        let data = try IDXImages.load(images: imagesPath, labels: labelsPath, classNames: classNames)
        guard data.height == 28, data.width == 28 else {
            throw DatasetError("\(imagesPath): images are \(data.height)×\(data.width), Fashion-MNIST's are 28×28; "
                            + "point data.path at a Fashion-MNIST directory")
        }
        return data
    }

    /// The path of `name` in `directory`, falling back to the unpacked name without `.gz`.
    public static func locate(_ name: String, in directory: String) throws -> String {
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
