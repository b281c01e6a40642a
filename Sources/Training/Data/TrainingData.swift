import Config
import Datasets
import Engine
import Foundation
import MPI

/// The training and test sets a run uses, read from the source `data:` describes, and the
/// per-channel normalisation every reader of them applies.
public struct TrainingData {
    /// Both splits carry the normalisation (`ImageDataset.mean`, `.std`): `data.mean` /
    /// `data.std`, Fashion-MNIST's constants for Fashion-MNIST, else the training set's own.
    public let train: ImageDataset
    public let test: ImageDataset
    /// Lines for the run log about how the data was read: caches made or reused, images
    /// skipped, a held-out test split.
    public private(set) var notes: [String] = []

    public init(train: ImageDataset, test: ImageDataset) {
        self.train = train
        self.test = test
    }

    /// The images' channels × height × width.
    public var shape: ImageShape { train.shape }

    /// Both splits from the configured source. Image folders and CIFAR batches go through a
    /// cache file per node in `data.cache_dir`, which the processes of `world` on one node
    /// make together the first time and map afterwards (collective over `world`).
    /// - Throws: `DatasetError` naming the file and what is wrong, `TrainingError` for a
    ///   config that does not fit the data.
    public init(config: TrainConfig, world: Communicator = .single()) throws {
        let d = config.data
        var train: ImageDataset, test: ImageDataset?
        var notes: [String] = []
        let heldOut = d.testFraction > 0
        let cache = NodeImageCache(directory: d.cacheDir.isEmpty ? config.run.dir + "/data-cache" : d.cacheDir, node: try world.node())
        func path(_ name: String) -> String { Self.file(name, in: d) }
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
            if !heldOut { test = try IDXImages.load(images: files[2], labels: files[3], transpose: d.transpose, classNames: train.classNames) }
        case .cifar:
            let labels: CIFAR.Labels = d.cifarLabels == .coarse ? .coarse : .fine
            let sources = try Self.cifar(directory: d.path, labels: labels, cache: cache, heldOut: heldOut)
            (train, test) = (sources.train, sources.test)
            notes += sources.notes
        case .folder:
            let sources = try Self.folders(config: d, cache: cache, reportsProgress: world.rank == 0 && config.run.progress != .none)
            (train, test) = (sources.train, sources.test)
            notes += sources.notes
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
            if !heldOut {
                test = try NumPyImages.dataset(images: array(d.testImages, "test.npz:images"), labels: array(d.testLabels, "test.npz:labels"),
                                               layout: layout, classes: train.classCount)
            }
        }
        if heldOut {
            let split = try Self.holdOut(fraction: d.testFraction, seed: d.splitSeed, of: train)
            (train, test) = (split.train, split.test)
            notes.append("data: \(split.test.count) of \(split.train.count + split.test.count) training images held out as the test set (data.test_fraction \(d.testFraction), data.split_seed \(d.splitSeed))")
        }
        guard var test else { throw TrainingError("data: no test set was read; set data.test_fraction to hold out part of the training images") }
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
        // Nodes read their own copies of the files: a node whose copy differs would run other
        // epoch lengths and hang a collective later, so it stops here instead.
        if world.isDistributed {
            let mine = [train.count, test.count, train.channels, train.height, train.width, train.classCount].map(Int64.init)
            let all = try world.allgather(mine)
            if let other = all.firstIndex(where: { $0 != all[0] }) {
                throw TrainingError("data: rank \(other) read \(all[other][0]) training and \(all[other][1]) test images of \(all[other][2])×\(all[other][3])×\(all[other][4]), rank 0 \(all[0][0]) and \(all[0][1]) of \(all[0][2])×\(all[0][3])×\(all[0][4]); every node must see the same files under data.path")
            }
        }
        self.train = train
        self.test = test
        self.notes = notes
    }

    /// `set` split at random (a permutation drawn from `seed`) into a test set of
    /// round(fraction × count) images and a training set of the rest, each in the original order.
    static func holdOut(fraction: Double, seed: Int, of set: ImageDataset) throws -> (train: ImageDataset, test: ImageDataset) {
        let testCount = Int((fraction * Double(set.count)).rounded())
        guard testCount >= 1 && testCount < set.count else {
            throw TrainingError("data.test_fraction \(fraction) of \(set.count) images leaves \(testCount) test and \(set.count - testCount) training images; choose a fraction that leaves some of each")
        }
        var order = Array(0..<set.count)
        var rng = RandomGenerator(seed: UInt64(seed), purpose: .dataSplit)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.int(below: i + 1)) }
        return (set.subset(order[testCount...].sorted()), set.subset(order[..<testCount].sorted()))
    }

    /// `name` (a file or folder key of `data:`) as a path: absolute as given, else under `data.path`.
    static func file(_ name: String, in d: TrainConfig.DataSection) -> String {
        name.hasPrefix("/") ? name : (d.path as NSString).appendingPathComponent(name)
    }

    /// How many training images `config` describes, without decoding an image folder (its
    /// files are counted; images `data.skip_bad_images` would leave out are included).
    public static func trainingImageCount(config: TrainConfig) throws -> Int {
        let d = config.data
        let count: Int
        switch d.format {
        case .folder:
            let root = try folderRoots(d).train
            count = try ImageFolder(root: root).count
        case .cifar:   // read directly: no cache is written for a count
            count = try CIFAR.load(train: true, directory: d.path, labels: d.cifarLabels == .coarse ? .coarse : .fine).count
        case .idx, .numpy:
            return try TrainingData(config: config).train.count
        }
        return count - (d.testFraction > 0 ? Int((d.testFraction * Double(count)).rounded()) : 0)
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
