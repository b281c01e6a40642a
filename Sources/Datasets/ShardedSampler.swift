import Engine

/// Which examples one rank visits in one epoch, and in what order.
///
/// Like PyTorch's `DistributedSampler`: every rank computes the same epoch permutation of
/// `0..<datasetCount` from `RandomGenerator(seed:purpose: .samplerEpoch, index: epoch)`; the tail
/// that does not divide evenly by `worldSize` is dropped (`dropTail`, the default) or filled
/// with the permutation's first examples (`padTail`), and rank `r` takes positions
/// `r, r + w, r + 2w, …` of the result. Every rank therefore gets the same number of examples —
/// equal step counts keep the all-reduces in lock-step.
///
/// For evaluation, `shuffle: false, dropTail: false` visits every example exactly once across
/// the ranks (rank `r` takes `r, r + w, …`), so ranks may differ by one example.
///
/// A pure value: equal inputs give equal indices on every machine.
public struct ShardedSampler: Equatable, Sendable {
    /// Number of examples in the data set.
    public let datasetCount: Int
    /// This rank, in `0..<worldSize`.
    public let rank: Int
    /// Number of ranks sharing the data set.
    public let worldSize: Int
    /// Seed shared by all ranks; the epoch picks the stream.
    public let seed: UInt64
    /// The epoch whose permutation this is.
    public let epoch: Int
    /// Whether examples are permuted (off: natural order, for evaluation).
    public let shuffle: Bool
    /// Whether the `datasetCount % worldSize` leftover examples are dropped.
    public let dropTail: Bool
    /// Whether the permutation is instead extended with its own first examples until it divides
    /// evenly (as PyTorch's `DistributedSampler` pads); takes precedence over `dropTail`.
    public let padTail: Bool
    /// This rank's examples for the epoch, in visiting order. indices: [count]
    public let indices: [Int]

    /// Number of examples this rank visits.
    public var count: Int { indices.count }

    /// Creates the sampler for one rank and one epoch.
    /// - Precondition: `datasetCount >= 0`, `worldSize >= 1`, `rank` in `0..<worldSize`, `epoch >= 0`.
    public init(datasetCount: Int, rank: Int, worldSize: Int, seed: UInt64, epoch: Int = 0,
                shuffle: Bool = true, dropTail: Bool = true, padTail: Bool = false) {
        precondition(datasetCount >= 0, "datasetCount \(datasetCount)")
        precondition(worldSize >= 1 && (0..<worldSize).contains(rank), "rank \(rank) of \(worldSize)")
        precondition(epoch >= 0, "epoch \(epoch)")
        self.datasetCount = datasetCount
        self.rank = rank
        self.worldSize = worldSize
        self.seed = seed
        self.epoch = epoch
        self.shuffle = shuffle
        self.dropTail = dropTail
        self.padTail = padTail

        let order = Self.order(count: datasetCount, seed: seed, epoch: epoch, shuffle: shuffle)
        if padTail && datasetCount > 0 {
            let padded = (datasetCount + worldSize - 1) / worldSize * worldSize
            self.indices = Array(stride(from: rank, to: padded, by: worldSize).lazy.map { order[$0 % datasetCount] })
        } else {
            let used = dropTail ? datasetCount / worldSize * worldSize : datasetCount
            self.indices = Array(stride(from: rank, to: used, by: worldSize).lazy.map { order[$0] })
        }
    }

    /// The same sampler for another epoch (a new permutation when shuffling).
    public func forEpoch(_ epoch: Int) -> ShardedSampler {
        ShardedSampler(datasetCount: datasetCount, rank: rank, worldSize: worldSize, seed: seed,
                       epoch: epoch, shuffle: shuffle, dropTail: dropTail, padTail: padTail)
    }

    /// The whole epoch order before sharding — identical on every rank. order: [datasetCount]
    public func epochOrder() -> [Int] {
        Self.order(count: datasetCount, seed: seed, epoch: epoch, shuffle: shuffle)
    }

    /// Number of batches `batches(batchSize:dropLast:)` returns.
    public func batchCount(batchSize: Int, dropLast: Bool) -> Int {
        precondition(batchSize >= 1, "batchSize \(batchSize)")
        return dropLast ? count / batchSize : (count + batchSize - 1) / batchSize
    }

    /// This rank's indices cut into consecutive batches; the last one is shorter unless
    /// `dropLast` drops it.
    public func batches(batchSize: Int, dropLast: Bool) -> [[Int]] {
        let n = batchCount(batchSize: batchSize, dropLast: dropLast)
        return (0..<n).map { b in
            Array(indices[(b * batchSize)..<min(count, (b + 1) * batchSize)])
        }
    }

    private static func order(count: Int, seed: UInt64, epoch: Int, shuffle: Bool) -> [Int] {
        guard shuffle else { return Array(0..<count) }
        var rng = RandomGenerator(seed: seed, purpose: .samplerEpoch, index: UInt64(epoch))
        return rng.permutation(count)
    }
}
