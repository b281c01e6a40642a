import Config
import TestSupport
import XCTest

/// `TrainConfig`: defaults and derived values.
final class ConfigTests: XCTestCase {
    func testDefaultsMatchTheDocumentedOnes() {
        let config = TrainConfig()
        XCTAssertEqual(config.model.name, .resnet20)
        XCTAssertEqual(config.model.numClasses, 10)
        XCTAssertEqual(config.model.mlpHidden, [1024, 1024])
        XCTAssertEqual(config.model.dropout, 0)

        XCTAssertEqual(config.data.dataset, .fashionMNIST)
        XCTAssertEqual(config.data.dataset.rawValue, "fashion-mnist")
        XCTAssertEqual(config.data.path, "/usr/share/datasets/fashion-mnist")
        XCTAssertTrue(config.data.augment)
        XCTAssertEqual(config.data.pad, 2)

        XCTAssertEqual(config.train.epochs, 15)
        XCTAssertEqual(config.train.batchSize, 128)
        XCTAssertEqual(config.train.seed, 0)
        XCTAssertEqual(config.train.labelSmoothing, 0)
        XCTAssertEqual(config.train.evalEvery, 1)
        XCTAssertEqual(config.train.threads, 1)

        XCTAssertEqual(config.optimizer.name, .sgd)
        XCTAssertEqual(config.optimizer.lr, 0.1)
        XCTAssertEqual(config.optimizer.momentum, 0.9)
        XCTAssertFalse(config.optimizer.nesterov)
        XCTAssertEqual(config.optimizer.weightDecay, 5e-4)
        XCTAssertEqual(config.optimizer.beta1, 0.9)
        XCTAssertEqual(config.optimizer.beta2, 0.999)
        XCTAssertEqual(config.optimizer.eps, 1e-8)
        XCTAssertEqual(config.optimizer.trustCoefficient, 0.001)
        XCTAssertTrue(config.optimizer.noDecayBNBias)

        XCTAssertEqual(config.schedule.warmupEpochs, 1)
        XCTAssertEqual(config.schedule.warmupStartFactor, 0.1)
        XCTAssertEqual(config.schedule.kind, .cosine)
        XCTAssertEqual(config.schedule.finalLR, 0)
        XCTAssertEqual(config.schedule.milestones, [])
        XCTAssertEqual(config.schedule.gamma, 0.1)
        XCTAssertFalse(config.schedule.scaleLRByBatch)

        XCTAssertEqual(config.run.dir, "runs/default")
        XCTAssertEqual(config.run.logEvery, 50)
        XCTAssertEqual(config.run.progress, .auto)
    }

    func testEqualitySeesEverySection() {
        var changed = TrainConfig()
        XCTAssertEqual(changed, TrainConfig())
        changed.run.logEvery = 7
        XCTAssertNotEqual(changed, TrainConfig())
    }

    func testBaseLRAppliesTheLinearScalingRuleOnlyWhenAsked() {
        var config = TrainConfig()
        config.optimizer.lr = 0.1
        config.train.batchSize = 128
        XCTAssertEqual(config.baseLR(worldSize: 4), 0.1)
        config.schedule.scaleLRByBatch = true
        XCTAssertEqual(config.baseLR(worldSize: 4), 0.1 * 512 / 256, accuracy: 1e-12)
        XCTAssertEqual(config.baseLR(worldSize: 2), 0.1, accuracy: 1e-12)
    }

    func testModelNamesAreTheSupportedOnes() {
        XCTAssertEqual(TrainConfig.ModelName.allCases.map(\.rawValue),
                       ["resnet20", "resnet32", "resnet56", "resnet18", "resnet50", "mlp", "vit"])
        XCTAssertEqual(TrainConfig.OptimizerName.allCases.map(\.rawValue), ["sgd", "adamw", "lars", "rmsprop"])
        XCTAssertEqual(TrainConfig.ScheduleKind.allCases.map(\.rawValue), ["cosine", "constant", "multistep", "step", "polynomial", "cosine_restarts"])
        XCTAssertEqual(ProgressMode.allCases.map(\.rawValue), ["auto", "bar", "plain", "none"])
    }
}
