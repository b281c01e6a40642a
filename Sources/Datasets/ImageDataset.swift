import Foundation

/// A labelled set of images in memory: uint8 pixels, one plane per channel, and a class per
/// image. Every data source (`FashionMNIST.load`, …) produces one; the loader, the augmentations
/// and every method read only this.
///
/// Images stay as raw bytes — 47 MB for Fashion-MNIST's train split instead of 188 MB as
/// Float — and are normalised per batch (`Augmentation`) while the loader copies them into a
/// tensor.
public struct ImageDataset: Sendable {
    /// Channels per image (1 gray, 3 RGB).
    public let channels: Int
    /// Image height in pixels.
    public let height: Int
    /// Image width in pixels.
    public let width: Int
    /// Pixels, 0 = black, planar by channel. images: [count, channels, height, width]
    public let images: PixelBuffer
    /// Class of each image, each in 0..<`classCount`. labels: [count]
    public let labels: [Int]
    /// Class names, indexed by label.
    public let classNames: [String]
    /// Per-channel mean and standard deviation of the pixels scaled to [0, 1], which every
    /// reader normalises with (one value: every channel). Fashion-MNIST's by default; a data
    /// source sets the configured or measured ones (`TrainingData`).
    public var mean: [Float] = [FashionMNIST.mean], std: [Float] = [FashionMNIST.std]

    /// Number of images.
    public var count: Int { labels.count }
    /// Number of classes.
    public var classCount: Int { classNames.count }
    /// Bytes per image: channels × height × width.
    public var pixelsPerImage: Int { channels * height * width }
    /// channels × height × width.
    public var shape: ImageShape { ImageShape(channels: channels, height: height, width: width) }

    /// Wraps images already in memory (sources, synthetic data, tests, subsets).
    ///
    /// - Precondition: `images.count == labels.count * channels * height * width`, labels in
    ///   0..<`classNames.count` (sources check their files and throw before this).
    public init(images: [UInt8], labels: [Int], channels: Int = 1, height: Int = 28, width: Int = 28,
                classNames: [String] = FashionMNIST.classNames) {
        self.init(pixels: PixelBuffer(images), labels: labels, channels: channels, height: height, width: width, classNames: classNames)
    }

    /// Wraps pixels that may be a memory-mapped file region (`PixelBuffer(mapped:)`).
    public init(pixels images: PixelBuffer, labels: [Int], channels: Int, height: Int, width: Int, classNames: [String]) {
        precondition(channels > 0 && height > 0 && width > 0, "image size \(channels)×\(height)×\(width)")
        precondition(images.count == labels.count * channels * height * width,
                     "\(images.count) pixels for \(labels.count) images of \(channels)×\(height)×\(width)")
        precondition(labels.allSatisfy { (0..<classNames.count).contains($0) }, "label outside 0..<\(classNames.count)")
        self.images = images
        self.labels = labels
        self.channels = channels
        self.height = height
        self.width = width
        self.classNames = classNames
    }
}

/// Image bytes: an array in this process, or a region of a memory-mapped file, whose pages the
/// processes of a node share and the kernel reads only when touched.
public struct PixelBuffer: RandomAccessCollection, ContiguousBytes, Sendable {
    private let data: Data

    /// A copy of `bytes`.
    public init(_ bytes: [UInt8]) { data = Data(bytes) }

    /// `data` as it is: a slice of `Data(contentsOf:options: .alwaysMapped)` stays mapped.
    public init(mapped data: Data) { self.data = data }

    public var startIndex: Int { 0 }
    public var endIndex: Int { data.count }

    /// Byte `i`.
    public subscript(i: Int) -> UInt8 { data[data.startIndex + i] }

    /// Runs `body` on the bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try data.withUnsafeBytes(body)
    }

    /// Runs `body` on the bytes.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try data.withUnsafeBytes { try body($0.bindMemory(to: UInt8.self)) }
    }
}

/// The size of the images a model takes: channels × height × width.
public struct ImageShape: Equatable, Sendable, CustomStringConvertible {
    public var channels: Int, height: Int, width: Int

    public init(channels: Int, height: Int, width: Int) {
        self.channels = channels
        self.height = height
        self.width = width
    }

    /// Fashion-MNIST's 1×28×28 (what the bench and checkpoints from before other data sets use).
    public static let fashionMNIST = ImageShape(channels: 1, height: 28, width: 28)

    /// "3×32×32".
    public var description: String { "\(channels)×\(height)×\(width)" }

    /// Reads `description`'s form back; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "×").compactMap { Int($0) }
        guard parts.count == 3, parts.allSatisfy({ $0 > 0 }) else { return nil }
        (channels, height, width) = (parts[0], parts[1], parts[2])
    }
}

extension ImageDataset {
    /// The images at `indices`, in that order, copied (with this set's classes and normalisation).
    public func subset(_ indices: [Int]) -> ImageDataset {
        let n = pixelsPerImage
        var pixels = [UInt8](); pixels.reserveCapacity(indices.count * n)
        images.withUnsafeBufferPointer { all in for i in indices { pixels += all[(i * n)..<((i + 1) * n)] } }
        var set = ImageDataset(images: pixels, labels: indices.map { labels[$0] }, channels: channels, height: height, width: width,
                               classNames: classNames)
        (set.mean, set.std) = (mean, std)
        return set
    }
}
