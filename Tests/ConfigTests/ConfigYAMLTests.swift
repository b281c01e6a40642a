@testable import Config
import Foundation
import TestSupport
import XCTest

/// `TrainConfig.yaml()` and `hash`.
final class ConfigYAMLTests: XCTestCase {
    /// A config where every key differs from its default.
    private func everythingChanged() -> TrainConfig {
        var c = TrainConfig()
        c.model.name = .resnet50
        c.model.numClasses = 1000
        c.model.width = 24
        c.model.mlpHidden = [512, 256, 128]
        c.model.dropout = 0.25
        c.model.patchSize = 7
        c.model.dim = 192
        c.model.depth = 12
        c.model.heads = 3
        c.model.mlpRatio = 4
        c.model.pooling = .mean
        c.model.dropPath = 0.1
        c.model.posEmbed = .sincos
        c.data.path = "/data/my datasets/fashion: \"v2\" #1 ü\tok\\"
        c.data.augment = false
        c.data.pad = 4
        c.data.dataset = .custom
        c.data.format = .numpy
        (c.data.trainImages, c.data.trainLabels) = ("x.npz:images", "x.npz:labels")
        (c.data.testImages, c.data.testLabels) = ("t.npy", "t-labels.npy")
        c.data.transpose = true
        c.data.cifarLabels = .coarse
        c.data.layout = .nhwc
        (c.data.mean, c.data.std) = ([0.5, 0.25, 0.125], [0.2, 0.3, 0.4])
        (c.data.imageSize, c.data.cacheDir, c.data.skipBadImages) = (64, "/scratch/cache", true)
        (c.data.testFraction, c.data.splitSeed) = (0.1, 7)
        c.distributed.timeoutS = 90
        c.train.epochs = 90
        c.train.batchSize = 64
        c.train.seed = 1234
        c.train.labelSmoothing = 0.1
        c.train.evalEvery = 5
        c.train.threads = 2
        c.train.iterations = 500
        c.train.accumulationSteps = 4
        c.distributed.syncBatchNorm = true
        c.distributed.bucketCapMB = 0.25
        c.distributed.maxNonfiniteSteps = 0
        c.distributed.shardTail = .pad
        c.checkpoint.everyIterations = 100
        c.checkpoint.everyEpoch = false
        c.checkpoint.keep = 5
        c.optimizer.name = .lars
        c.optimizer.lr = 0.3 + 1e-17  // not a "nice" decimal: must still round-trip exactly
        c.optimizer.momentum = 0.95
        c.optimizer.nesterov = true
        c.optimizer.weightDecay = 1.5e-6
        c.optimizer.beta1 = 0.85
        c.optimizer.beta2 = 0.9999
        c.optimizer.eps = 1e-12
        c.optimizer.trustCoefficient = 0.02
        c.optimizer.noDecayBNBias = false
        c.optimizer.lrScales = ["fc.*=10", "layer4.*=0.5"]
        c.optimizer.noDecay = ["*.bias", "weird \"name\""]
        c.optimizer.alpha = 0.9
        c.optimizer.centered = true
        c.optimizer.clipGradNorm = 1.5
        c.optimizer.layerDecay = 0.65
        c.schedule.warmupEpochs = 2.5
        c.schedule.warmupStartFactor = 0
        c.schedule.kind = .multistep
        c.schedule.finalLR = 1e-5
        c.schedule.milestones = [30, 60, 80]
        c.schedule.gamma = 0.2
        c.schedule.scaleLRByBatch = true
        c.schedule.warmupKind = .exponential
        c.schedule.stepEpochs = 7
        c.schedule.restartEpochs = 3
        c.schedule.restartMult = 2
        c.schedule.power = 2
        c.schedule.weightDecayKind = .cosine
        c.schedule.finalWeightDecay = 1e-6
        c.train.method = .moco
        c.moco.dim = 64
        c.moco.headHidden = 256
        c.moco.queueSize = 65536
        c.moco.temperature = 0.07
        c.moco.momentum = 0.999
        c.moco.momentumSchedule = .cosine
        c.moco.keyBatchNorm = .sync
        c.moco.keyGroups = 4
        c.moco.views.cropMinScale = 0.08
        c.moco.views.flipP = 0
        c.moco.views.jitterP = 1
        c.moco.views.brightness = 0.2
        c.moco.views.contrast = 0.6
        c.moco.views.blurP = 0.25
        c.moco.views.blurSigmaMax = 2
        (c.moco.views.saturation, c.moco.views.hue, c.moco.views.grayscaleP) = (0.3, 0.05, 0.1)
        c.moco.knnK = 20
        c.moco.knnTemperature = 0.07
        c.moco.knnEvery = 5
        c.views.cropMinScale = 0.3
        c.views.flipP = 0.25
        c.views.jitterP = 0.5
        c.views.brightness = 0.1
        c.views.contrast = 0.2
        c.views.blurP = 0.75
        c.views.blurSigmaMax = 1.5
        (c.views.saturation, c.views.hue, c.views.grayscaleP) = (0.8, 0.5, 0)
        c.knn.k = 50
        c.knn.temperature = 0.05
        c.knn.every = 3
        c.simclr.dim = 64
        c.simclr.headHidden = 32
        c.simclr.temperature = 0.1
        c.simclr.batchNorm = .local
        c.mocov3.dim = 256
        c.mocov3.mlpDim = 1024
        c.mocov3.temperature = 0.1
        c.mocov3.momentum = 0.996
        c.mocov3.momentumSchedule = .constant
        c.mocov3.batchNorm = .local
        c.mocov3.freezePatchEmbed = true
        c.mae.maskRatio = 0.6
        c.mae.decoderDim = 128
        c.mae.decoderDepth = 4
        c.mae.decoderHeads = 8
        c.mae.normPixLoss = false
        c.mae.evalEvery = 10
        c.mae.gridImages = 4
        c.probe.epochs = 100
        c.probe.batchSize = 1024
        c.probe.lrs = [30, 3.5e-3]
        c.probe.heldOut = 0
        c.probe.momentum = 0.5
        c.probe.weightDecay = 1e-6
        c.run.dir = "-runs/true"
        c.run.logEvery = 10
        c.run.progress = .none
        return c
    }

    func testEveryKeyIsChangedByTheFixture() {
        // Guards the round-trip test: a key added later must be changed there too.
        let changed = everythingChanged(), defaults = TrainConfig()
        for field in ConfigSchema.fields {
            XCTAssertNotEqual(field.render(changed), field.render(defaults), "\(field.key) not exercised")
        }
    }

    func testAFullConfigRoundTrips() throws {
        let config = everythingChanged()
        let text = config.yaml()
        XCTAssertEqual(try ConfigLoader.parse(yaml: text, source: "resolved.yaml"), config, text)
    }

    func testDefaultsRoundTripThroughAFile() throws {
        let directory = try makeTemporaryDirectory(self)
        var config = TrainConfig()
        config.run.dir = "elsewhere"
        let path = try writeFile(config.yaml(), named: "config.yaml", in: directory)
        XCTAssertEqual(try ConfigLoader.load(path: path), config)
    }

    func testRenderingListsEveryKeyUnderItsSection() {
        let text = TrainConfig().yaml()
        for field in ConfigSchema.fields {
            XCTAssertTrue(text.contains("\n  \(field.name): "), "missing \(field.key)")
        }
        XCTAssertTrue(text.contains("model:\n  name: resnet20\n"))
        XCTAssertTrue(text.contains("  betas: [0.9, 0.999]\n"))
        XCTAssertTrue(text.contains("  milestones: []\n"))
        XCTAssertTrue(text.contains("  eps: 1.0e-08\n"))
        XCTAssertTrue(text.contains("  dataset: fashion-mnist\n"))
    }

    /// A supervised config hashes without the MoCo keys (its checkpoints from before MoCo
    /// still match); a MoCo config's hash covers them, but not the probe's.
    func testHashCoversTheMoCoSectionOnlyForMoCoRuns() {
        let base = TrainConfig()
        var supervised = base
        supervised.moco.temperature = 0.07
        XCTAssertEqual(supervised.hash, base.hash)
        var moco = base
        moco.train.method = .moco
        XCTAssertNotEqual(moco.hash, base.hash)
        var warmer = moco
        warmer.moco.temperature = 0.5
        XCTAssertNotEqual(warmer.hash, moco.hash)
        var probed = moco
        probed.probe.lrs = [3]
        XCTAssertEqual(probed.hash, moco.hash)
    }

    /// MAE's evaluation keys only watch a run: changing them on resume is allowed.
    func testHashLeavesOutMAEsEvaluationKeys() {
        var mae = TrainConfig()
        mae.train.method = .mae
        var watched = mae
        watched.mae.evalEvery = 3
        watched.mae.gridImages = 4
        XCTAssertEqual(watched.hash, mae.hash)
        var masked = mae
        masked.mae.maskRatio = 0.5
        XCTAssertNotEqual(masked.hash, mae.hash)
    }

    /// `model.width` joins the hash only when it differs from the default, so checkpoints
    /// from before the key existed still match.
    func testHashCoversModelWidthOnlyWhenNotTheDefault() {
        let base = TrainConfig()
        var explicit = base
        explicit.model.width = 16
        XCTAssertEqual(explicit.hash, base.hash)
        var wide = base
        wide.model.width = 24
        XCTAssertNotEqual(wide.hash, base.hash)
    }

    /// The ViT's keys join the hash only for a ViT, and the optimizer keys added with it only
    /// away from their defaults: every other config keeps the hash it had before they existed.
    func testHashCoversNewKeysOnlyWhereTheyMatter() {
        let base = TrainConfig()
        var resnet = base
        resnet.model.dim = 192
        resnet.model.depth = 12
        XCTAssertEqual(resnet.hash, base.hash)
        var vit = base
        vit.model.name = .vit
        var deeper = vit
        deeper.model.depth = 12
        XCTAssertNotEqual(deeper.hash, vit.hash)
        // Drop-path and the position table join a ViT's hash only away from their defaults.
        let rendered = vit.yaml()
        XCTAssertTrue(rendered.contains("drop_path:") && rendered.contains("pos_embed:"), rendered)
        for change in [{ (c: inout TrainConfig) in c.model.dropPath = 0.1 }, { $0.model.posEmbed = .sincos }] {
            var changed = vit
            change(&changed)
            XCTAssertNotEqual(changed.hash, vit.hash)
        }
        var defaults = base
        defaults.optimizer.alpha = 0.99
        defaults.optimizer.layerDecay = 1
        XCTAssertEqual(defaults.hash, base.hash)
        for change in [{ (c: inout TrainConfig) in c.optimizer.clipGradNorm = 1 }, { $0.optimizer.centered = true },
                       { $0.optimizer.alpha = 0.9 }, { $0.optimizer.layerDecay = 0.75 }] {
            var changed = base
            change(&changed)
            XCTAssertNotEqual(changed.hash, base.hash)
        }
    }

    func testHashIsStableAndIgnoresTheRunSection() {
        let base = TrainConfig()
        XCTAssertEqual(base.hash.count, 16)
        XCTAssertEqual(base.hash, TrainConfig().hash)
        // Pinned: checkpoints store this value, so a change here means old checkpoints will
        // look like a different config on resume. Change it only deliberately (last: the
        // schedule kinds and parameter-name patterns, before any release).
        XCTAssertEqual(base.hash, "05548e1e48541fcf")

        var moved = base
        moved.run.dir = "somewhere/else"
        moved.run.progress = .plain
        moved.run.logEvery = 1
        moved.checkpoint.everyIterations = 7
        moved.checkpoint.keep = 1
        XCTAssertEqual(moved.hash, base.hash)

        var trained = base
        trained.train.seed = 1
        XCTAssertNotEqual(trained.hash, base.hash)
    }

    /// The shipped configs hash as they did when format-1 checkpoints were written (values
    /// read from the checkpoints of `--set train.iterations=200` runs of the build before the
    /// Training / Methods split), so those checkpoints resume without a "config differs" note.
    func testShippedConfigsKeepTheirFormatOneHashes() throws {
        let expected = ["fashion-resnet20": "89ba9817bf8aa889", "moco-v2-fashion": "d1fb2c78a5e17784"]
        for (name, hash) in expected {
            let config = try ConfigLoader.load(path: packageRoot.appendingPathComponent("configs/\(name).yaml").path,
                                               overrides: ["train.iterations=200"])
            XCTAssertEqual(config.hash, hash, name)
        }
    }
}
