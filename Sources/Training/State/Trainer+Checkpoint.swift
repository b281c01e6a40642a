import Datasets
import Engine
import Foundation
import Persistence

/// Saving and restoring a run: the `TrainState` snapshots taken at step boundaries, the final
/// checkpoint and the weights file.
extension Trainer {
    /// Loads a checkpoint's tensors (parameters, buffers, optimizer state), the objective's
    /// counters and this rank's dropout streams; the position came with `start`.
    func restore(from file: CheckpointFile) throws {
        let hint = "resume with the config the run was started with (its config.yaml)"
        try file.load(into: objective.parameters + objective.buffers, prefix: "model.",
                      what: "holds a different model than this config", hint: hint)
        try file.load(into: step.optimizer.namedState(), prefix: "optimizer.",
                      what: "holds the state of another optimizer configuration", hint: hint)
        try objective.restore(counters: try TrainState(from: file).counters ?? [:], source: file.source)
        if let streams = start.dropout {
            let layers = objective.randomLayers
            guard layers.count == streams.count else {
                throw TrainingError("checkpoint '\(file.source)' holds \(streams.count) dropout stream(s), this model has \(layers.count) dropout or drop-path layer(s); \(hint)")
            }
            for (layer, rng) in zip(layers, streams) { layer.rng = rng }
        }
        if let run { try run.rewriteMetrics(metricsLines) }
    }

    func saveCheckpoint(epoch: Int, loader: BatchLoader, totals: EpochTotals) throws {
        try saveCheckpoint(epoch: epoch, batchInEpoch: loader.batchesDelivered, augmentation: loader.randomState, totals: totals)
    }

    /// Snapshots the state at this step boundary (every rank's streams and totals gathered to
    /// rank 0), and rank 0 writes it before the next step. Its pooled step buffers go back
    /// first, so the snapshot and the encoder's copies (about 3 × the state) take the place of
    /// the step's activations instead of adding to them: a checkpoint never raises the peak.
    func saveCheckpoint(epoch: Int, batchInEpoch: Int, augmentation: RandomGenerator, totals: EpochTotals) throws {
        let dropouts = objective.randomLayers.map(\.rng)
        let streams = try world.allgather(([augmentation] + dropouts).flatMap(\.words))
        let allTotals = try world.allgather(totals.words)
        guard let run, let store else { return }
        let startedAt = MonotonicClock.seconds()
        BufferPool.shared.drain()
        let state = TrainState(
            iteration: iteration, epoch: epoch, batchInEpoch: batchInEpoch, samplerSeed: UInt64(config.train.seed),
            worldSize: world.size, globalBatch: config.train.batchSize * world.size,
            augmentation: streams.map { RandomGenerator(words: $0, at: 0) },
            dropout: streams.map { words in (0..<dropouts.count).map { RandomGenerator(words: words, at: $0 + 1) } },
            epochSums: allTotals.map(EpochTotals.init(words:)),
            nonFiniteSteps: step.nonFiniteSteps, metricsLines: metricsLines, configHash: config.hash, counters: objective.counters)
        var file = try RunCheckpoint.snapshot(state, model: objective.parameters + objective.buffers,
                                              optimizer: step.optimizer.namedState(), configYAML: config.yaml())
        file.metadata["image_shape"] = data.shape.description
        (file.metadata["method"], file.metadata["model"]) = (config.train.method.rawValue, config.model.name.rawValue)
        let snapshotMs = (MonotonicClock.seconds() - startedAt) * 1000
        let slowly = faults?.fires(.slowCheckpoint, at: iteration) ?? false
        let (sizes, writeMs) = try store.save(file, iteration: iteration, pauseBeforeRename: slowly ? 2 : 0)
        try run.appendLog(String(format: "checkpoint %@: %d bytes of state stored in %d (%.3f×); snapshot %.0f ms, write %.0f ms",
                                 CheckpointStore.fileName(iteration: iteration), sizes.rawBytes, sizes.storedBytes, sizes.ratio,
                                 snapshotMs, writeMs))
    }

    /// Rank 0 writes `model.safetensors` (parameters and buffers, PyTorch's names) and
    /// `checkpoints/final.ckpt` (those and the optimizer state, the resolved config and where
    /// the run stopped).
    func saveFinalState() throws {
        guard let run else { return }
        let model = objective.parameters + objective.buffers
        var meta = ["model": config.model.name.rawValue, "method": config.train.method.rawValue, "config_hash": config.hash]

        let weightsPath = run.path + "/model.safetensors"
        var weights = SafeTensors(source: weightsPath)
        for (name, t) in model { weights.set(name, t) }
        weights.metadata = meta.merging(["epochs": String(config.train.epochs), "iterations": String(iteration),
                                         "ranks": String(world.size)]) { $1 }
        for (name, value) in history.last?.evaluation ?? [] { weights.metadata[name] = String(value) }
        try weights.write(to: weightsPath)

        meta.merge(["kind": "final", "iteration": String(iteration), "epochs": String(metricsLines.count),
                    "world_size": String(world.size), "image_shape": data.shape.description]) { $1 }
        for (name, value) in objective.counters { meta[name] = String(value) }
        let file = try RunCheckpoint.file(model: model, optimizer: step.optimizer.namedState(), state: nil,
                                          configYAML: config.yaml(), metadata: meta)
        do { try FileManager.default.createDirectory(atPath: run.checkpointsPath, withIntermediateDirectories: true) } catch {
            throw CheckpointError(run.checkpointsPath, "cannot be created (\(error.localizedDescription)); check that the run directory is writable")
        }
        let sizes = try file.write(to: run.checkpointsPath + "/final.ckpt")
        try run.appendLog(String(format: "checkpoints/final.ckpt: %d bytes of state stored in %d (%.3f×)", sizes.rawBytes, sizes.storedBytes, sizes.ratio))
    }
}

extension RandomGenerator {
    /// The four state words, for gathering across ranks.
    var words: [Int64] { [s0, s1, s2, s3].map { Int64(bitPattern: $0) } }

    /// The generator whose state is `words[4·index ..< 4·index + 4]`.
    init(words: [Int64], at index: Int) {
        self.init(seed: 0)
        (s0, s1, s2, s3) = (UInt64(bitPattern: words[4 * index]), UInt64(bitPattern: words[4 * index + 1]),
                            UInt64(bitPattern: words[4 * index + 2]), UInt64(bitPattern: words[4 * index + 3]))
    }
}
