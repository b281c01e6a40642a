import Config
import Foundation
import TestSupport
import XCTest

/// `ConfigLoader`: files, overrides and every kind of error message.
final class ConfigLoaderTests: XCTestCase {
    private var directory = URL(fileURLWithPath: "/nonexistent")

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory(self)
    }

    /// Writes `yaml` to `x.yaml` and loads it.
    private func load(_ yaml: String, overrides: [String] = []) throws -> TrainConfig {
        try ConfigLoader.load(path: try writeFile(yaml, named: "x.yaml", in: directory), overrides: overrides)
    }

    // MARK: - Shipped configs

    func testShippedResNet20ConfigIsTheDefaultRun() throws {
        let path = packageRoot.appendingPathComponent("configs/fashion-resnet20.yaml").path
        let config = try ConfigLoader.load(path: path)
        var expected = TrainConfig()
        expected.run.dir = "runs/fashion-resnet20"
        XCTAssertEqual(config, expected)
    }

    func testShippedSmokeConfigIsSmall() throws {
        let path = packageRoot.appendingPathComponent("configs/smoke.yaml").path
        let config = try ConfigLoader.load(path: path)
        XCTAssertEqual(config.model.name, .mlp)
        XCTAssertEqual(config.train.epochs, 1)
        XCTAssertEqual(config.train.batchSize, 64)
        XCTAssertLessThanOrEqual(config.train.iterations, 100, "a few dozen iterations")
        XCTAssertGreaterThan(config.checkpoint.everyIterations, 0)
        XCTAssertLessThan(config.checkpoint.everyIterations, config.train.iterations, "it checkpoints along the way")
        XCTAssertEqual(config.run.dir, "runs/smoke")
        XCTAssertLessThanOrEqual(config.model.mlpHidden.reduce(0, +), 256)
    }

    func testShippedMoCoConfigPretrainsAWideResNet20TrunkWithShuffleBN() throws {
        let path = packageRoot.appendingPathComponent("configs/moco-v2-fashion.yaml").path
        let config = try ConfigLoader.load(path: path)
        XCTAssertEqual(config.train.method, .moco)
        XCTAssertEqual(config.model.name, .resnet20)
        XCTAssertEqual(config.moco.keyBatchNorm, .shuffle)
        XCTAssertEqual(config.moco.queueSize, 4096)
        XCTAssertEqual(config.model.width, 24, "ResNet-20 x1.5: 96 features")
        XCTAssertEqual(config.moco.knnEvery, 2, "the kNN monitor (about 45 s at 2 ranks) every other epoch keeps pre-training under 90 minutes")
        XCTAssertGreaterThan(config.probe.lrs.count, 1, "the probe picks its learning rate")
        XCTAssertGreaterThan(config.probe.heldOut, 0)
        XCTAssertEqual(config.run.dir, "runs/moco-v2-fashion")
    }

    func testMoCoAndProbeKeysAreReadAndChecked() throws {
        let config = try load("""
            train:
              method: moco
            moco:
              queue_size: 1000
              key_batch_norm: local
              key_groups: 4
              momentum_schedule: cosine
              crop_min_scale: 0.5
            probe:
              lrs: [0.5, 0.05]
              held_out: 0
            """)
        XCTAssertEqual(config.moco.queueSize, 1000)
        XCTAssertEqual(config.moco.keyBatchNorm, .local)
        XCTAssertEqual(config.moco.keyGroups, 4)
        XCTAssertEqual(config.moco.momentumSchedule, .cosine)
        XCTAssertEqual(config.moco.views.cropMinScale, 0.5)
        XCTAssertEqual(config.probe.lrs, [0.5, 0.05])
        XCTAssertEqual(config.probe.heldOut, 0)
        assertConfigError(try load("train:\n  method: byol\n"),
                               contains: ["x.yaml:2: train.method: unknown training method 'byol'", "valid: supervised, moco, simclr, mocov3"])
        assertConfigError(try load("mocov3:\n  batch_norm: shuffle\n"), contains: ["mocov3.batch_norm", "valid: sync, local"])
        assertConfigError(try load("views:\n  flip_p: 2\n"), contains: ["views.flip_p: must be a number in [0, 1], got 2"])
        assertConfigError(try load("moco:\n  crop_min_scale: 0\n"),
                               contains: ["moco.crop_min_scale: must be a number in (0, 1], got 0"])
        assertConfigError(try load("moco:\n  key_groups: 0\n"), contains: ["moco.key_groups: must be an integer >= 1, got 0"])
        assertConfigError(try load("moco:\n  key_batch_norm: global\n"), contains: ["valid: shuffle, sync, local"])
        assertConfigError(try load("probe:\n  lrs: []\n"), contains: ["probe.lrs: needs at least one number"])
        assertConfigError(try load("probe:\n  batch-size: 64\n"), contains: ["did you mean 'probe.batch_size'?"])
        assertConfigError(try load("moco:\n  lr: 0.1\n"), contains: ["did you mean 'optimizer.lr'?"])
        assertConfigError(try load("probe:\n  lrs: [0.1, -1]\n"),
                               contains: ["x.yaml:2: probe.lrs: every element must be a number > 0, got -1"])
    }

    // MARK: - Reading values

    func testFileValuesOverrideDefaultsAndTheRestStay() throws {
        let config = try load("""
            model:
              name: mlp
              mlp_hidden:
                - 256
                - 128
            optimizer: {name: adamw, lr: 3e-4, betas: [0.8, 0.99], nesterov: yes}
            schedule:
              milestones: [5, 10]
            run:
              dir: out/here
            """)
        XCTAssertEqual(config.model.name, .mlp)
        XCTAssertEqual(config.model.mlpHidden, [256, 128])
        XCTAssertEqual(config.optimizer.name, .adamw)
        XCTAssertEqual(config.optimizer.lr, 3e-4)
        XCTAssertEqual(config.optimizer.beta1, 0.8)
        XCTAssertEqual(config.optimizer.beta2, 0.99)
        XCTAssertTrue(config.optimizer.nesterov)
        XCTAssertEqual(config.schedule.milestones, [5, 10])
        XCTAssertEqual(config.run.dir, "out/here")
        XCTAssertEqual(config.train, TrainConfig().train)
    }

    func testIntegersAreAcceptedWhereNumbersAreExpected() throws {
        XCTAssertEqual(try load("optimizer:\n  lr: 1\n").optimizer.lr, 1.0)
    }

    func testEmptyFileAndEmptySectionsMeanDefaults() throws {
        var expected = TrainConfig()
        expected.run.dir = "runs/x"
        XCTAssertEqual(try load(""), expected)
        XCTAssertEqual(try load("# only a comment\n"), expected)
        XCTAssertEqual(try load("train:\n  # epochs: 3\nmodel:\n"), expected)
    }

    func testRunDirDefaultsToTheConfigStem() throws {
        let path = try writeFile("", named: "my-exp.v2.yaml", in: directory)
        XCTAssertEqual(try ConfigLoader.load(path: path).run.dir, "runs/my-exp.v2")
        XCTAssertEqual(ConfigLoader.defaultRunDir(for: "configs/smoke.yaml"), "runs/smoke")
    }

    // MARK: - Overrides

    func testOverridesApplyInOrderAndBeatTheFile() throws {
        let config = try load("train:\n  epochs: 7\n", overrides: [
            "train.epochs=3",
            "optimizer.name=adamw",
            "schedule.milestones=[5,10]",
            "model.mlp_hidden=[]",
            "run.dir=/tmp/somewhere else",
            "data.augment=false",
            "optimizer.lr=0.5",
            "optimizer.lr=0.25",
        ])
        XCTAssertEqual(config.train.epochs, 3)
        XCTAssertEqual(config.optimizer.name, .adamw)
        XCTAssertEqual(config.schedule.milestones, [5, 10])
        XCTAssertEqual(config.model.mlpHidden, [])
        XCTAssertEqual(config.run.dir, "/tmp/somewhere else")
        XCTAssertFalse(config.data.augment)
        XCTAssertEqual(config.optimizer.lr, 0.25)
    }

    func testApplyingOverridesToAnExistingConfig() throws {
        let config = try ConfigLoader.applying(overrides: ["train.seed=42"], to: TrainConfig())
        XCTAssertEqual(config.train.seed, 42)
        assertConfigError(try ConfigLoader.applying(overrides: ["train.seed=-1"], to: TrainConfig()),
                               contains: ["--set train.seed=-1", "train.seed", ">= 0", "-1"])
    }

    func testBadOverridesNameTheOverride() {
        assertConfigError(try load("", overrides: ["train.epoch=3"]),
                               contains: ["--set train.epoch=3: unknown key 'train.epoch' (did you mean 'train.epochs'?)"])
        assertConfigError(try load("", overrides: ["train.epochs"]),
                               contains: ["--set train.epochs", "key=value"])
        assertConfigError(try load("", overrides: ["train.epochs=abc"]),
                               contains: ["--set train.epochs=abc: train.epochs: expected an integer, got 'abc'"])
        assertConfigError(try load("", overrides: ["train.epochs="]),
                               contains: ["--set train.epochs=", "expected an integer, got nothing"])
        assertConfigError(try load("", overrides: ["schedule.milestones=[5,10"]),
                               contains: ["--set schedule.milestones=[5,10", "schedule.milestones", "not valid YAML"])
        assertConfigError(try load("", overrides: ["train=3"]),
                               contains: ["--set train=3", "section", "train.epochs"])
        assertConfigError(try load("", overrides: ["optimizer.name=adam"]),
                               contains: ["--set optimizer.name=adam", "unknown optimizer 'adam'",
                                          "did you mean 'adamw'", "sgd, adamw, lars"])
    }

    // MARK: - Unknown keys

    func testUnknownKeyNamesFileLineKeyAndSuggestion() {
        let message = assertConfigError(try load("""
            model:
              name: mlp
            train:
              epoch: 3
            """), contains: ["unknown key 'train.epoch' (did you mean 'train.epochs'?)"])
        XCTAssertTrue(message?.hasPrefix(directory.appendingPathComponent("x.yaml").path + ":4: ") ?? false,
                      message ?? "")
    }

    func testUnknownKeySuggestionsAcrossSections() {
        assertConfigError(try load("trian:\n  epochs: 3\n"),
                               contains: ["x.yaml:1: unknown key 'trian' (did you mean 'train'?)"])
        assertConfigError(try load("epochs: 3\n"),
                               contains: ["x.yaml:1: unknown key 'epochs' (did you mean 'train.epochs'?)"])
        assertConfigError(try load("train:\n  epochs: 3\n  lr: 0.1\n"),
                               contains: ["x.yaml:3: unknown key 'train.lr' (did you mean 'optimizer.lr'?)"])
    }

    func testUnknownKeyWithNothingCloseListsTheValidKeys() {
        assertConfigError(try load("train:\n  frobnicate: 3\n"),
                               contains: ["x.yaml:2: unknown key 'train.frobnicate'", "valid keys in 'train'",
                                          "epochs", "batch_size"])
        assertConfigError(try load("frobnicate: 3\n"),
                               contains: ["x.yaml:1: unknown key 'frobnicate'", "valid sections", "optimizer"])
    }

    func testDuplicateKeysAreErrors() {
        assertConfigError(try load("train:\n  epochs: 3\n  epochs: 4\n"),
                               contains: ["x.yaml:3: duplicate key 'train.epochs' (first set at line 2)"])
        assertConfigError(try load("train:\n  epochs: 3\ntrain:\n  seed: 1\n"),
                               contains: ["x.yaml:3: duplicate key 'train'"])
    }

    // MARK: - Wrong types

    func testWrongTypesNameTheLineAndKey() {
        assertConfigError(try load("train:\n  seed: 1\n  epochs: three\n"),
                               contains: ["x.yaml:3: train.epochs: expected an integer, got 'three'"])
        assertConfigError(try load("train:\n  epochs: 1.5\n"),
                               contains: ["x.yaml:2: train.epochs: expected an integer, got '1.5'"])
        assertConfigError(try load("train:\n  epochs: \"3\"\n"),
                               contains: ["x.yaml:2: train.epochs", "quoted string '3'", "remove the quotes"])
        assertConfigError(try load("optimizer:\n  lr: fast\n"),
                               contains: ["x.yaml:2: optimizer.lr: expected a number, got 'fast'"])
        assertConfigError(try load("optimizer:\n  lr: .nan\n"),
                               contains: ["x.yaml:2: optimizer.lr: expected a number"])
        assertConfigError(try load("data:\n  augment: maybe\n"),
                               contains: ["x.yaml:2: data.augment: expected true or false, got 'maybe'"])
        assertConfigError(try load("schedule:\n  milestones: 5\n"),
                               contains: ["x.yaml:2: schedule.milestones: expected a list such as [5, 10], got '5'"])
        assertConfigError(try load("data:\n  path: [a, b]\n"),
                               contains: ["x.yaml:2: data.path: expected a string, got a list"])
        assertConfigError(try load("model: resnet20\n"),
                               contains: ["x.yaml:1: model: expected a section", "model.name"])
        assertConfigError(try load("- model\n- train\n"),
                               contains: ["x.yaml:1: expected sections (model, data", "got a list"])
    }

    // MARK: - Out of range

    func testOutOfRangeValuesSayWhatIsAllowed() {
        assertConfigError(try load("train:\n  epochs: 0\n"),
                               contains: ["x.yaml:2: train.epochs: must be an integer >= 1, got 0"])
        assertConfigError(try load("optimizer:\n  lr: -0.1\n"),
                               contains: ["x.yaml:2: optimizer.lr: must be a number > 0, got -0.1"])
        assertConfigError(try load("train:\n  label_smoothing: 1.0\n"),
                               contains: ["x.yaml:2: train.label_smoothing: must be a number in [0, 1), got 1.0"])
        assertConfigError(try load("model:\n  name: resnet21\n"),
                               contains: ["x.yaml:2: model.name: unknown model 'resnet21'", "did you mean 'resnet20'",
                                          "valid: resnet20, resnet32, resnet56, resnet18, resnet50, mlp"])
        assertConfigError(try load("optimizer:\n  betas: [0.9]\n"),
                               contains: ["x.yaml:2: optimizer.betas: expected exactly two numbers", "got 1"])
        assertConfigError(try load("optimizer:\n  betas: [0.9, 1.5]\n"),
                               contains: ["optimizer.betas: each beta must be in [0, 1), got 1.5"])
    }

    func testListElementErrorsPointAtTheElementLine() {
        assertConfigError(try load("""
            schedule:
              milestones:
                - 5
                - 3
            """), contains: ["x.yaml:4: schedule.milestones: must be strictly increasing, got 3 after 5"])
        assertConfigError(try load("model:\n  mlp_hidden: [64, 0]\n"),
                               contains: ["x.yaml:2: model.mlp_hidden: every element must be an integer >= 1, got 0"])
    }

    // MARK: - File problems

    func testInvalidYAMLNamesFileAndLine() throws {
        let message = assertConfigError(try load("train:\n  epochs: 3\n  seed: [1, 2\nmodel:\n  name: mlp\n"),
                                             contains: ["x.yaml:", "invalid YAML", "fix the syntax"])
        let range = message?.range(of: #"x\.yaml:[0-9]+:[0-9]+: invalid YAML"#, options: .regularExpression)
        XCTAssertNotNil(range, message ?? "")
        assertConfigError(try load("train:\n  epochs: 3\n bad indentation: 1\n"),
                               contains: ["x.yaml:3:2: invalid YAML"])
        assertConfigError(try load("train:\n\tepochs: 3\n"),
                               contains: ["x.yaml:2:", "invalid YAML", "not tabs"])
    }

    /// YAML nested deeply enough to overflow Yams's recursive parser (60,000 `[`, 100,000 `- `
    /// on a line: crashes found while writing the config fuzz target) is refused before it reaches Yams;
    /// ordinary nesting still loads.
    func testDeeplyNestedYAMLIsRefusedBeforeItCanOverflowTheStack() throws {
        assertConfigError(try load("model:\n  mlp_hidden: " + String(repeating: "[", count: 60_000) + "\n"),
                          contains: ["x.yaml:2: the YAML is nested more than 64 deep"])
        assertConfigError(try load("model:\n  mlp_hidden:\n  " + String(repeating: "- ", count: 100_000) + "1\n"),
                          contains: ["x.yaml:3: the YAML is nested more than 64 deep"])
        assertConfigError(try ConfigLoader.parse(yaml: "", source: "x.yaml", overrides: ["model.mlp_hidden=" + String(repeating: "{a: ", count: 70)]),
                          contains: ["--set model.mlp_hidden=", "nested more than 64 deep"])
        assertConfigError(try ConfigLoader.parse(yaml: String(repeating: "# padding\n", count: 110_000), source: "x.yaml"),
                          contains: ["x.yaml: 1100000 bytes of YAML"])
        XCTAssertEqual(try load("model:\n  mlp_hidden:\n    - 8\n    - 4\n").model.mlpHidden, [8, 4])
    }

    func testMissingFileIsOneLineNamingThePath() {
        assertConfigError(try ConfigLoader.load(path: "/nonexistent/configs/nope.yaml"),
                               contains: ["/nonexistent/configs/nope.yaml: config file not found"])
    }

    func testDirectoryAndNonUTF8FilesAreRejected() throws {
        assertConfigError(try ConfigLoader.load(path: directory.path),
                               contains: [directory.path, "is a directory"])
        let path = directory.appendingPathComponent("latin1.yaml")
        try Data([0x74, 0x72, 0x61, 0x69, 0x6E, 0x3A, 0x20, 0xE9, 0xFF, 0x0A]).write(to: path)
        assertConfigError(try ConfigLoader.load(path: path.path), contains: [path.path, "UTF-8"])
    }
}
