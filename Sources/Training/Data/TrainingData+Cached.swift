import Config
import Datasets
import Engine
import Foundation

extension TrainingData {
    typealias Sources = (train: ImageDataset, test: ImageDataset?, notes: [String])

    /// Image folders: `data.train_images` / `data.test_images` if given, else `path/train` and
    /// `path/test` if both exist, else `path` itself for training (the test set then held out
    /// with `data.test_fraction`). Each decoded once per node into the cache.
    static func folders(config d: TrainConfig.DataSection, cache: NodeImageCache, reportsProgress: Bool) throws -> Sources {
        let (trainRoot, testRoot) = try folderRoots(d)
        var notes: [String] = []
        func decode(_ root: String, _ role: String, classNames: [String]?, channels: Int?) throws -> ImageDataset {
            let listing = MonotonicClock.seconds()
            let folder = try ImageFolder(root: root, classNames: classNames)
            let listed = MonotonicClock.seconds() - listing
            let settings = "size \(d.imageSize) channels \(channels ?? 0) skip \(d.skipBadImages)"
            let key = "folder 1 \(folder.fingerprint) \(settings) classes " + StableHash.hex(StableHash.fnv1a64(folder.classNames.joined(separator: "\u{0}")))
            let name = "folder-\(role)-" + StableHash.hex(StableHash.fnv1a64(Self.absolute(root)))
            let decoding = ImageFolderDecoding(folder: folder, imageSize: d.imageSize, channels: channels, skipBad: d.skipBadImages,
                                               node: cache.node, reportsProgress: reportsProgress)
            let made = try cache.dataset(name: name, key: key) { try decoding.part(key: key) }
            notes.append(Self.note(made.origin, made.set.count, what: "image folder '\(root)'", cache: cache.directory + "/" + name + ".images")
                         + String(format: " (its %d files listed in %.2f s)", folder.count, listed))
            if !made.header.skipped.isEmpty {
                notes.append("data: \(made.header.skipped.count) image(s) of '\(root)' skipped (data.skip_bad_images); the first: \(made.header.skipped[0])")
            }
            return made.set
        }
        let train = try decode(trainRoot, "train", classNames: nil, channels: nil)
        let test = try d.testFraction > 0 ? nil : testRoot.map { try decode($0, "test", classNames: train.classNames, channels: train.channels) }
        return (train, test, notes)
    }

    /// The training folder and the test folder (nil: held out) `data:` names.
    static func folderRoots(_ d: TrainConfig.DataSection) throws -> (train: String, test: String?) {
        func path(_ name: String) -> String { file(name, in: d) }
        let split = ImageFolder.isDirectory(path("train")) && ImageFolder.isDirectory(path("test"))
        let trainRoot = !d.trainImages.isEmpty ? path(d.trainImages) : split ? path("train") : d.path
        let testRoot: String? = !d.testImages.isEmpty ? path(d.testImages) : split ? path("test") : nil
        if testRoot == nil && d.testFraction == 0 {
            throw TrainingError("image folder '\(trainRoot)' comes without a test set: set data.test_images to a test folder, lay the data out as \(d.path)/train and \(d.path)/test, or hold out part of the training images with data.test_fraction (e.g. 0.1)")
        }
        return (trainRoot, testRoot)
    }

    /// CIFAR batches, whose records interleave labels and pixels: read by one process per
    /// node into the cache, which every process then maps.
    static func cifar(directory: String, labels: CIFAR.Labels, cache: NodeImageCache, heldOut: Bool) throws -> Sources {
        // The batches and the class-name files only: a cache kept in the same directory must not change the key.
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
            .filter { $0.hasSuffix(".bin") || $0.hasSuffix(".txt") }.map { directory + "/" + $0 }
        let key = "cifar 1 \(labels.rawValue) " + ImageFolder.fingerprint(of: files)
        var notes: [String] = []
        func read(train: Bool) throws -> ImageDataset {
            let role = train ? "train" : "test"
            let name = "cifar-\(role)-" + StableHash.hex(StableHash.fnv1a64(Self.absolute(directory)))
            let made = try cache.dataset(name: name, key: key) {
                let empty = ImageCacheFile.Header(key: key, count: 0, shape: ImageShape(channels: 3, height: 32, width: 32), classNames: ["-"], skipped: [])
                guard cache.node.rank == 0 else { return NodeImageCache.Part(header: empty, labels: [], pixels: []) }
                let set = try CIFAR.load(train: train, directory: directory, labels: labels)
                var header = empty
                (header.count, header.classNames) = (set.count, set.classNames)
                return NodeImageCache.Part(header: header, labels: set.labels, pixels: set.images)
            }
            notes.append(note(made.origin, made.set.count, what: "CIFAR \(role) batches in '\(directory)'", cache: cache.directory + "/" + name + ".images"))
            return made.set
        }
        let train = try read(train: true)
        return (train, heldOut ? nil : try read(train: false), notes)
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    static func note(_ origin: NodeImageCache.Origin, _ count: Int, what: String, cache: String) -> String {
        switch origin {
        case .cached: return "data: \(count) images of \(what) mapped from the cache \(cache)"
        case .made(let seconds):
            return "data: \(what) decoded into the cache \(cache): \(count) images in \(String(format: "%.1f", seconds)) s (\(Int(Double(count) / max(seconds, 1e-9))) images/s)"
        case .remade(let reason, let seconds):
            return "data: the cache \(cache) was made again (\(reason)): \(count) images of \(what) in \(String(format: "%.1f", seconds)) s (\(Int(Double(count) / max(seconds, 1e-9))) images/s)"
        }
    }
}
