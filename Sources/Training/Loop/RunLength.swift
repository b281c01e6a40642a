import Config
import Datasets

/// How long a run is, in optimizer steps: what each rank's shard of the training set gives
/// per epoch in whole batches, what the schedules span, and where training stops.
public struct RunLength: Equatable, Sendable {
    /// Steps per epoch: each rank's shard in whole `train.batch_size` batches.
    public let iterationsPerEpoch: Int
    /// Steps the schedules span: `train.epochs` full epochs.
    public let scheduled: Int
    /// Steps this run takes: `scheduled`, or `train.iterations` when that is set and shorter.
    public let last: Int

    /// - Throws: `TrainingError` when a rank's shard holds no whole batch, or the batch does
    ///   not split into the micro-batches asked for.
    public init(config: TrainConfig, trainCount: Int, worldSize: Int) throws {
        let train = config.train
        guard train.batchSize % train.accumulationSteps == 0 else {
            throw TrainingError("train.batch_size \(train.batchSize) does not split into train.accumulation_steps \(train.accumulationSteps) equal micro-batches; make it a multiple")
        }
        let shard = ShardedSampler(datasetCount: trainCount, rank: 0, worldSize: worldSize, seed: 0,
                                   padTail: config.distributed.shardTail == .pad).count
        guard shard >= train.batchSize else {
            throw TrainingError("train.batch_size \(train.batchSize) is larger than the \(shard) training images of each of \(worldSize) rank(s)")
        }
        iterationsPerEpoch = shard / train.batchSize
        scheduled = iterationsPerEpoch * train.epochs
        last = train.iterations > 0 ? min(train.iterations, scheduled) : scheduled
    }

    /// The epoch (0-based) that step `iteration` belongs to.
    public func epoch(of iteration: Int) -> Int { iteration / iterationsPerEpoch }
}
