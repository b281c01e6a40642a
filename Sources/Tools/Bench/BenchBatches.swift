import Datasets
import Engine
import MPI

/// The batches a bench run trains on: real Fashion-MNIST batches from the prefetching
/// loader — augmented as the reference does for each workload (resnet20 and vit: flip + pad-2 crop;
/// moco, mocov3 and simclr: two random-resized-crop views; mlp: none), epochs wrapping around
/// as needed — or
/// random images (`synthetic`).
public final class BenchBatches {
    /// What the batches are, for the result (`fashion-mnist`, `synthetic`).
    public var source: String { train == nil ? "synthetic" : "fashion-mnist" }

    private let model: ThroughputBench.Model
    private let batch: Int
    private let rank: Int
    private let worldSize: Int
    private let train: ImageDataset?
    private let directory: String
    private var rng: RandomGenerator
    private var epoch = 0
    private var position = 0
    private var current: BatchLoader?

    /// Random images and labels, a fresh draw every batch.
    public init(synthetic model: ThroughputBench.Model, batch: Int, world: Communicator) {
        self.model = model
        self.batch = batch
        (rank, worldSize) = (world.rank, world.size)
        train = nil
        directory = ""
        rng = RandomGenerator(seed: 1234, purpose: .augmentation, index: UInt64(world.rank))
    }

    /// This rank's shard of the Fashion-MNIST training set in `directory`.
    /// - Throws: `DatasetError` when the files cannot be read.
    public init(fashionMNIST directory: String, model: ThroughputBench.Model, batch: Int, world: Communicator) throws {
        self.model = model
        self.batch = batch
        (rank, worldSize) = (world.rank, world.size)
        train = try FashionMNIST.load(split: .train, directory: directory)
        self.directory = directory
        rng = RandomGenerator(seed: 1234, purpose: .augmentation, index: UInt64(world.rank))
    }

    deinit { current?.stop() }

    /// The next batch.
    public func next() throws -> Batch {
        guard let train else {
            defer { position += 1 }
            return Batch(images: Tensor.randn([batch, 1, 28, 28], rng: &rng), labels: (0..<batch).map { _ in rng.int(below: 10) },
                         indices: Array(0..<batch), position: position,
                         secondView: model.hasTwoViews ? Tensor.randn([batch, 1, 28, 28], rng: &rng) : nil)
        }
        if let loader = current {
            if let next = loader.next() { return next }
            rng = loader.randomState
            loader.stop()
            epoch += 1
        }
        let sampler = ShardedSampler(datasetCount: train.count, rank: rank, worldSize: worldSize, seed: 1234, epoch: epoch)
        let loader = BatchLoader(dataset: train, sampler: sampler, batchSize: batch, augment: model == .resnet20 || model == .vit,
                                 views: model.hasTwoViews ? ContrastiveAugmentation(settings: .init()) : nil, rng: rng)
        current = loader
        guard let next = loader.next() else {
            throw DatasetError("\(directory): no full batch of \(batch) images in each rank's share of the training set; lower --batch")
        }
        return next
    }
}
