@testable import Training
import Config
import Engine
import MPI
import Persistence
import TestSupport
import XCTest

/// The one place a checkpoint meets a run: checks against the config, the global batch kept
/// on another world size, and each rank's start.
final class ResumePlanTests: XCTestCase {
    /// A snapshot of a run (by default 2 ranks × 64 images, 60,000 images: 468 steps per
    /// epoch) at iteration 500: epoch 1, 32 batches in.
    private func plan(worldSize: Int = 2, batch: Int = 64, seed: UInt64 = 0, configHash: String? = nil) throws -> ResumePlan {
        var config = TrainConfig()
        config.train.batchSize = batch
        let streams = (0..<worldSize).map { RandomGenerator(seed: 9, purpose: .augmentation, index: UInt64($0)) }
        var sums = (0..<worldSize).map { _ in EpochTotals() }
        for r in sums.indices { sums[r].add(loss: Float(r + 1), correct: r, examples: 10) }
        let state = TrainState(iteration: 500, epoch: 1, batchInEpoch: 32, samplerSeed: seed, worldSize: worldSize,
                               globalBatch: batch * worldSize, augmentation: streams, dropout: streams.map { _ in [] },
                               epochSums: sums, nonFiniteSteps: 1, metricsLines: ["{}"], configHash: configHash ?? config.hash)
        let file = try RunCheckpoint.snapshot(state, model: [], optimizer: [], configYAML: config.yaml())
        return try ResumePlan(checkpoint: CheckpointFile(bytes: file.encoded().bytes, source: "saved.ckpt"))
    }

    private func twoRanks() -> TrainConfig {
        var config = TrainConfig()
        config.train.batchSize = 64
        return config
    }

    /// Saved on 2 ranks, continued on 1: the global batch of 128 is kept, the streams are new,
    /// both ranks' partial sums are rank 0's now.
    func testAnotherWorldSizeKeepsTheGlobalBatchAndFoldsTheTotals() throws {
        let c = try plan().continuation(of: twoRanks(), world: .single(), trainCount: 60_000)
        XCTAssertEqual(c.config.train.batchSize, 128)
        XCTAssertEqual(c.length.iterationsPerEpoch, 468)
        XCTAssertEqual(c.start.totals.examples, 20)
        XCTAssertEqual(c.start.totals.lossSum, 30)
        XCTAssertNil(c.start.dropout)
        XCTAssertNotEqual(c.start.augmentation, RandomGenerator(seed: 9, purpose: .augmentation, index: 0))
        XCTAssertTrue(c.notes[0].contains("saved on 2 rank(s), now 1: global batch 128 kept (128 per rank)"), c.notes[0])
        XCTAssertFalse(c.notes[0].contains("config differs"), c.notes[0])
    }

    func testAOneRankCheckpointContinuesExactlyOnOneRank() throws {
        var config = TrainConfig()
        config.train.batchSize = 128
        let saved = try plan(worldSize: 1, batch: 128)
        let c = try saved.continuation(of: config, world: .single(), trainCount: 60_000)
        XCTAssertEqual(c.config.train.batchSize, 128)
        XCTAssertEqual(c.start.augmentation, saved.state.augmentation[0])
        XCTAssertEqual(c.start.dropout, [])
        XCTAssertEqual(c.start.totals, saved.state.epochSums[0])
        XCTAssertEqual(c.start.iteration, 500)
        XCTAssertEqual(c.start.epoch, 1)
        XCTAssertEqual(c.start.batchInEpoch, 32)
        XCTAssertEqual(c.start.nonFiniteSteps, 1)
        XCTAssertEqual(c.start.metricsLines, ["{}"])
        XCTAssertEqual(c.notes, ["resumed from saved.ckpt at iteration 500 (epoch 2, batch 32)"])
    }

    func testACheckpointThatDoesNotFitTheConfigIsRefused() throws {
        var seeded = twoRanks()
        seeded.train.seed = 3
        assertError(TrainingError.self, try plan().continuation(of: seeded, world: .single(), trainCount: 60_000),
                    contains: ["saved.ckpt", "train.seed 0, this config has 3", "its config.yaml"])
        var short = twoRanks()
        short.train.epochs = 0
        assertError(TrainingError.self, try plan().continuation(of: short, world: .single(), trainCount: 60_000),
                    contains: ["beyond this config's train.epochs 0"])
        assertError(TrainingError.self, try plan().continuation(of: twoRanks(), world: .single(), trainCount: 30_000),
                    contains: ["does not match this config's 234 iterations per epoch"])
        let hashed = try plan(configHash: "0000000000000000").continuation(of: twoRanks(), world: .single(), trainCount: 60_000)
        XCTAssertTrue(hashed.notes[0].contains("the config differs from the checkpoint's (hash 0000000000000000"), hashed.notes[0])
    }
}
