import Data
import Engine
import Foundation

/// Saving and restoring a run: the `TrainState` snapshots taken at step boundaries, the final
/// checkpoint and the weights file.
extension Trainer {
    /// Restores a checkpoint's state (every rank, from the same bytes). The model it holds
    /// must have this config's parameter names and shapes.
    public func restore(_ file: CheckpointFile) throws -> String {
        let state = try TrainState(from: file)
        let micro = config.train.accumulationSteps
        func refuse(_ what: String) -> CoordinatorError {
            CoordinatorError("checkpoint '\(file.source)' \(what); resume with the config the run was started with (its config.yaml)")
        }
        guard state.samplerSeed == UInt64(config.train.seed) else {
            throw refuse("was saved with train.seed \(state.samplerSeed), this config has \(config.train.seed)")
        }
        guard state.epoch <= config.train.epochs else {
            throw refuse("is at epoch \(state.epoch + 1), beyond this config's train.epochs \(config.train.epochs)")
        }
        guard state.batchInEpoch % micro == 0, state.batchInEpoch / micro <= iterationsPerEpoch,
              state.iteration == state.epoch * iterationsPerEpoch + state.batchInEpoch / micro else {
            throw refuse("is at iteration \(state.iteration) (epoch \(state.epoch + 1), batch \(state.batchInEpoch)), which does not match this config's \(iterationsPerEpoch) iterations per epoch of \(micro) micro-batch(es)")
        }
        for (name, t) in objective.parameters + objective.buffers {
            guard let entry = try? file.entry("model." + name), entry.dtype == .f32, entry.shape == t.shape else {
                let found = (try? file.entry("model." + name)).map { "shape \($0.shape)" } ?? "no such entry"
                throw CoordinatorError("checkpoint '\(file.source)' holds a different model: '\(name)' is \(t.shape) in this config but \(found) there; resume with the config the run was started with (its config.yaml)")
            }
            let values = try file.floats("model." + name)
            values.withUnsafeBufferPointer { t.data.update(from: $0.baseAddress!, count: t.count) }
        }
        var saved: [String: Tensor] = [:]
        for (name, _) in optimizer.namedState() {
            let e = try file.entry("optimizer." + name)
            saved[name] = Tensor(shape: e.shape, values: try file.floats("optimizer." + name))
        }
        do { try optimizer.loadState(saved) } catch {
            throw CoordinatorError("checkpoint '\(file.source)': \(error); it was saved with another optimizer configuration")
        }
        try objective.restore(counters: state.counters ?? [:], source: file.source)
        globalIteration = state.iteration
        nonFiniteSteps = state.nonFiniteSteps
        metricsLines = state.metricsLines
        var note = "resumed from \(file.source) at iteration \(state.iteration) (epoch \(state.epoch + 1), batch \(state.batchInEpoch))"
        if state.worldSize == world.size {
            start = Position(epoch: state.epoch, batchInEpoch: state.batchInEpoch, augmentation: state.augmentation[world.rank],
                             epochSums: state.epochSums[world.rank])
            let dropouts = objective.dropoutLayers
            guard dropouts.count == state.dropout[world.rank].count else {
                throw refuse("holds \(state.dropout[world.rank].count) dropout stream(s), this model has \(dropouts.count) dropout layer(s)")
            }
            for (layer, rng) in zip(dropouts, state.dropout[world.rank]) { layer.rng = rng }
        } else {
            // Another world size: the global batch is kept (set by the caller), each rank's
            // streams are derived afresh, and the epoch's partial sums go to rank 0.
            let fresh = RandomGenerator(seed: UInt64(config.train.seed) &+ UInt64(state.iteration) &* 1_000_003, purpose: .augmentation,
                                        index: UInt64(world.rank))
            var sums = [0.0, 0.0, 0.0, 0.0]
            if world.rank == 0 {
                for r in state.epochSums { for i in 0..<3 { sums[i] += r[i] } }
                sums[3] = state.epochSums.first?[3] ?? 0   // every rank counts each skipped step
            }
            start = Position(epoch: state.epoch, batchInEpoch: state.batchInEpoch, augmentation: fresh, epochSums: sums)
            note += "; saved on \(state.worldSize) rank(s), now \(world.size): global batch \(config.train.batchSize * world.size) kept (\(config.train.batchSize) per rank), random streams re-derived, so the continuation is not bit-identical to an uninterrupted run"
            if config.train.method == .moco && config.moco.keyBatchNorm == .shuffle {
                note += "; MoCo shuffle-BN now splits the key batch into \(world.size * config.moco.keyGroups) group(s) "
                    + "(\(world.size) rank(s) × moco.key_groups \(config.moco.keyGroups)): set moco.key_groups to keep the run's count"
            }
        }
        if state.configHash != config.hash {
            note += "; the config differs from the checkpoint's (hash \(state.configHash) → \(config.hash))"
        }
        if let run { try run.rewriteMetrics(metricsLines) }
        return note
    }

    func saveCheckpoint(epoch: Int, loader: BatchLoader, sums: [Double], wait: Bool) throws {
        try saveCheckpoint(epoch: epoch, batchInEpoch: loader.batchesDelivered, augmentation: loader.randomState, sums: sums, wait: wait)
    }

    /// Snapshots the state at this step boundary (every rank's streams and sums gathered to
    /// rank 0) and hands it to the background writer; the step waits only for the copy.
    func saveCheckpoint(epoch: Int, batchInEpoch: Int, augmentation: RandomGenerator, sums: [Double], wait: Bool) throws {
        let startedAt = DispatchTime.now().uptimeNanoseconds
        let dropouts = objective.dropoutLayers.map(\.rng)
        let streams = try world.allgather(([augmentation] + dropouts).flatMap(Self.words))
        let allSums = try world.allgather(sums.map { Int64(bitPattern: $0.bitPattern) })
        guard let run, let store else { return }
        let perRank = 1 + dropouts.count
        let state = TrainState(
            iteration: globalIteration, epoch: epoch, batchInEpoch: batchInEpoch, samplerSeed: UInt64(config.train.seed),
            worldSize: world.size, globalBatch: config.train.batchSize * world.size,
            augmentation: streams.map { Self.generator($0, at: 0) },
            dropout: streams.map { words in (1..<perRank).map { Self.generator(words, at: $0) } },
            epochSums: allSums.map { $0.map { Double(bitPattern: UInt64(bitPattern: $0)) } },
            nonFiniteSteps: nonFiniteSteps, metricsLines: metricsLines, configHash: config.hash, counters: objective.counters)
        let file = try state.checkpointFile(model: objective.parameters + objective.buffers, optimizer: optimizer.namedState(),
                                            configYAML: config.yaml())
        let stall = Double(DispatchTime.now().uptimeNanoseconds - startedAt) / 1e6
        let slowly = fault?.fires(.slowCheckpoint, step: globalIteration, rank: world.rank) ?? false
        try store.save(file, iteration: globalIteration, slowly: slowly) { line in try? run.appendLog(line) }
        try run.appendLog(String(format: "checkpoint at iteration %d: the step waited %.1f ms for the snapshot", globalIteration, stall))
        if wait { try store.wait() }
    }

    static func words(_ g: RandomGenerator) -> [Int64] { [g.s0, g.s1, g.s2, g.s3].map { Int64(bitPattern: $0) } }

    static func generator(_ words: [Int64], at index: Int) -> RandomGenerator {
        var g = RandomGenerator(seed: 0)
        (g.s0, g.s1, g.s2, g.s3) = (UInt64(bitPattern: words[4 * index]), UInt64(bitPattern: words[4 * index + 1]),
                                    UInt64(bitPattern: words[4 * index + 2]), UInt64(bitPattern: words[4 * index + 3]))
        return g
    }


    /// Writes `checkpoints/final.ckpt`: parameters and buffers (`model.<name>`), optimizer
    /// state (`optimizer.<name>`), the resolved config and where the run stopped.
    func saveFinalCheckpoint() throws {
        guard let run else { return }
        try FileManager.default.createDirectory(atPath: run.checkpointsPath, withIntermediateDirectories: true)
        var file = CheckpointFile()
        for (name, t) in objective.parameters + objective.buffers { file.set("model." + name, floats: t.values, shape: t.shape) }
        for (name, t) in optimizer.namedState() { file.set("optimizer." + name, floats: t.values, shape: t.shape) }
        file.set("config.yaml", bytes: Array(config.yaml().utf8))
        file.metadata = ["kind": "final", "iteration": String(globalIteration), "epochs": String(metricsLines.count),
                         "config_hash": config.hash, "world_size": String(world.size), "model": config.model.name.rawValue,
                         "method": config.train.method.rawValue]
        for (name, value) in objective.counters { file.metadata[name] = String(value) }
        let sizes = try file.write(to: run.checkpointsPath + "/final.ckpt")
        try run.appendLog(String(format: "checkpoints/final.ckpt: %d bytes of state stored in %d (%.3f×)", sizes.rawBytes, sizes.storedBytes, sizes.ratio))
    }

    /// Writes parameters and buffers as `model.safetensors` in the run directory.
    func saveWeights() throws {
        guard let run else { return }
        let path = run.path + "/model.safetensors"
        var file = SafeTensors(source: path)
        for (name, t) in objective.parameters + objective.buffers { file.set(name, t) }
        file.metadata = ["model": config.model.name.rawValue, "method": config.train.method.rawValue, "config_hash": config.hash,
                         "epochs": String(config.train.epochs), "iterations": String(globalIteration), "ranks": String(world.size)]
        for (name, value) in history.last?.evaluation ?? [] { file.metadata[name] = String(value) }
        try file.write(to: path)
    }
}
