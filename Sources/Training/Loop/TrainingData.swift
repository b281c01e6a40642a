import Config
import Datasets
import Foundation

/// The training and test sets a run uses, read from the source `data:` describes, and the
/// per-channel normalisation every reader of them applies.
public struct TrainingData {
    /// Both splits carry the normalisation (`ImageDataset.mean`, `.std`): `data.mean` /
    /// `data.std`, Fashion-MNIST's constants for Fashion-MNIST, else the training set's own.
    public let train: ImageDataset
    public let test: ImageDataset

    public init(train: ImageDataset, test: ImageDataset) {
        self.train = train
        self.test = test
    }

    /// The images' channels × height × width.
    public var shape: ImageShape { train.shape }

    /// Both splits from the configured source.
    /// - Throws: `DatasetError` naming the file and what is wrong, `TrainingError` for a
    ///   config that does not fit the data.
    public init(config: TrainConfig) throws {
        let d = config.data
        var train: ImageDataset, test: ImageDataset
        func path(_ name: String) -> String { name.hasPrefix("/") ? name : (d.path as NSString).appendingPathComponent(name) }
        // Fashion-MNIST's names, classes and constants apply only to its own files.
        let fashion = d.dataset == .fashionMNIST && d.format == .idx && !d.transpose
            && [d.trainImages, d.trainLabels, d.testImages, d.testLabels].allSatisfy(\.isEmpty)
        switch d.format {
        case .idx where fashion:
            train = try FashionMNIST.load(split: .train, directory: d.path)
            test = try FashionMNIST.load(split: .test, directory: d.path)
        case .idx:
            let fashionNames = (FashionMNIST.fileNames(for: .train), FashionMNIST.fileNames(for: .test))
            let names = [d.trainImages, d.trainLabels, d.testImages, d.testLabels]
            let defaults = [fashionNames.0.images, fashionNames.0.labels, fashionNames.1.images, fashionNames.1.labels]
            let files = try zip(names, defaults).map { name, fallback in
                name.isEmpty ? try FashionMNIST.locate(fallback, in: d.path) : path(name)
            }
            train = try IDXImages.load(images: files[0], labels: files[1], transpose: d.transpose)
            test = try IDXImages.load(images: files[2], labels: files[3], transpose: d.transpose, classNames: train.classNames)
        case .cifar:
            let labels: CIFAR.Labels = d.cifarLabels == .coarse ? .coarse : .fine
            train = try CIFAR.load(train: true, directory: d.path, labels: labels)
            test = try CIFAR.load(train: false, directory: d.path, labels: labels)
        case .numpy:
            func array(_ name: String, _ fallback: String) throws -> NumPyArray {
                let spec = name.isEmpty ? fallback : name
                guard let colon = spec.range(of: ".npz:") else { return try NumPyArray(contentsOf: path(spec)) }
                let file = path(String(spec[..<colon.lowerBound]) + ".npz")
                return try NumPyArchive(contentsOf: file).array(String(spec[colon.upperBound...]))
            }
            let layout = NumPyImages.Layout(rawValue: d.layout.rawValue) ?? .auto
            train = try NumPyImages.dataset(images: array(d.trainImages, "train.npz:images"), labels: array(d.trainLabels, "train.npz:labels"),
                                            layout: layout)
            test = try NumPyImages.dataset(images: array(d.testImages, "test.npz:images"), labels: array(d.testLabels, "test.npz:labels"),
                                           layout: layout, classes: train.classCount)
        }
        guard (test.channels, test.height, test.width) == (train.channels, train.height, train.width) else {
            throw TrainingError("the test images are \(test.channels)×\(test.height)×\(test.width), the training images \(train.channels)×\(train.height)×\(train.width); the two splits must match")
        }
        guard test.classCount <= train.classCount else {
            throw TrainingError("the test set has labels up to \(test.classCount - 1), the training set only up to \(train.classCount - 1); the two splits must share their classes")
        }
        // One value per channel: a configured list of 1 or C values, else the default.
        let c = train.channels
        for (key, values) in [("data.mean", d.mean), ("data.std", d.std)] where ![0, 1, c].contains(values.count) {
            throw TrainingError("\(key) has \(values.count) values for images of \(c) channel(s); give 1 or \(c)")
        }
        let measured = d.mean.isEmpty || d.std.isEmpty
            ? (fashion ? ([FashionMNIST.mean], [FashionMNIST.std]) : Self.statistics(of: train)) : ([], [])
        func perChannel(_ configured: [Double], _ fallback: [Float]) -> [Float] {
            let values = configured.isEmpty ? fallback : configured.map(Float.init)
            return values.count == c ? values : [Float](repeating: values[0], count: c)
        }
        let mean = perChannel(d.mean, measured.0), std = perChannel(d.std, measured.1)
        (train.mean, train.std, test.mean, test.std) = (mean, std, mean, std)
        self.train = train
        self.test = test
    }

    /// "data: cifar, 50000 training and 10000 test images of 3×32×32 in 10 classes; normalised
    /// with mean [...] and std [...]" — the run log's line about its data.
    public func summary(format: String) -> String {
        let numbers = { (v: [Float]) in "[" + v.map { String(format: "%.4f", $0) }.joined(separator: ", ") + "]" }
        return "data: \(format), \(train.count) training and \(test.count) test images of \(train.shape) in \(train.classCount) classes; "
            + "normalised with mean \(numbers(train.mean)) and std \(numbers(train.std))"
    }

    /// Each channel's mean and standard deviation over every training pixel (in [0, 1]).
    static func statistics(of set: ImageDataset) -> ([Float], [Float]) {
        let plane = set.height * set.width
        var sums = [Double](repeating: 0, count: set.channels), squares = sums
        set.images.withUnsafeBufferPointer { all in
            for n in 0..<set.count {
                for c in 0..<set.channels {
                    var s: UInt64 = 0, q: UInt64 = 0
                    let base = n * set.pixelsPerImage + c * plane
                    for p in 0..<plane { let v = UInt64(all[base + p]); s += v; q += v * v }
                    sums[c] += Double(s)
                    squares[c] += Double(q)
                }
            }
        }
        let count = Double(set.count * plane)
        let mean = sums.map { $0 / count / 255 }
        let std = zip(squares, mean).map { q, m in max((q / count / (255 * 255) - m * m).squareRoot(), 1e-6) }
        return (mean.map(Float.init), std.map(Float.init))
    }
}
