import Yams

/// The table of every config key: how to read it from a YAML node (type and range checks
/// included) and how to render it back. One table drives file loading, `--set` overrides,
/// `TrainConfig.yaml()` and key suggestions, so those cannot drift apart.
enum ConfigSchema {
    /// One leaf key such as `train.epochs`.
    struct Field {
        /// Dotted key, `section.name`.
        let key: String
        /// Reads `node` into `config`; throws a one-line `ConfigError` naming `origin`.
        let apply: (inout TrainConfig, Node, ConfigOrigin) throws -> Void
        /// The value as YAML flow text that `apply` reads back to the same value.
        let render: (TrainConfig) -> String

        var section: String { String(key.prefix { $0 != "." }) }
        var name: String { String(key.drop { $0 != "." }.dropFirst()) }
    }

    /// Section names in the order `yaml()` writes them.
    static let sections = ["model", "data", "train", "optimizer", "schedule", "distributed", "moco", "views", "knn", "simclr",
                           "mocov3", "mae", "probe", "checkpoint", "run"]

    /// Sections that change what is trained; the config hash covers only these.
    static let hashedSections = ["model", "data", "train", "optimizer", "schedule", "distributed", "moco", "views", "simclr", "mocov3", "mae"]

    /// Every key, grouped by section in `sections` order.
    static let fields: [Field] = [
        choice("model.name", \.model.name, what: "model"),
        int("model.width", \.model.width, min: 1),
        int("model.num_classes", \.model.numClasses, min: 2),
        intList("model.mlp_hidden", \.model.mlpHidden, min: 1, increasing: false),
        number("model.dropout", \.model.dropout, .fraction),
        int("model.patch_size", \.model.patchSize, min: 1),
        int("model.dim", \.model.dim, min: 1),
        int("model.depth", \.model.depth, min: 1),
        int("model.heads", \.model.heads, min: 1),
        number("model.mlp_ratio", \.model.mlpRatio, .above(0)),
        choice("model.pooling", \.model.pooling, what: "ViT pooling"),
        number("model.drop_path", \.model.dropPath, .fraction),
        choice("model.pos_embed", \.model.posEmbed, what: "ViT position embedding"),

        choice("data.dataset", \.data.dataset, what: "dataset"),
        choice("data.format", \.data.format, what: "data format"),
        string("data.path", \.data.path),
        string("data.train_images", \.data.trainImages, optional: true),
        string("data.train_labels", \.data.trainLabels, optional: true),
        string("data.test_images", \.data.testImages, optional: true),
        string("data.test_labels", \.data.testLabels, optional: true),
        bool("data.transpose", \.data.transpose),
        choice("data.cifar_labels", \.data.cifarLabels, what: "CIFAR-100 label kind"),
        choice("data.layout", \.data.layout, what: "image layout"),
        int("data.image_size", \.data.imageSize, min: 0),
        string("data.cache_dir", \.data.cacheDir, optional: true),
        bool("data.skip_bad_images", \.data.skipBadImages),
        number("data.test_fraction", \.data.testFraction, .fraction),
        int("data.split_seed", \.data.splitSeed, min: 0),
        numberList("data.mean", \.data.mean, .closedFraction, optional: true),
        numberList("data.std", \.data.std, .above(0), optional: true),
        bool("data.augment", \.data.augment),
        int("data.pad", \.data.pad, min: 0),

        int("train.epochs", \.train.epochs, min: 1),
        int("train.batch_size", \.train.batchSize, min: 1),
        int("train.seed", \.train.seed, min: 0),
        number("train.label_smoothing", \.train.labelSmoothing, .fraction),
        int("train.eval_every", \.train.evalEvery, min: 0),
        int("train.threads", \.train.threads, min: 1),
        int("train.iterations", \.train.iterations, min: 0),
        int("train.accumulation_steps", \.train.accumulationSteps, min: 1),
        choice("train.method", \.train.method, what: "training method"),

        choice("optimizer.name", \.optimizer.name, what: "optimizer"),
        number("optimizer.lr", \.optimizer.lr, .above(0)),
        number("optimizer.momentum", \.optimizer.momentum, .fraction),
        bool("optimizer.nesterov", \.optimizer.nesterov),
        number("optimizer.weight_decay", \.optimizer.weightDecay, .atLeast(0)),
        betas(),
        number("optimizer.eps", \.optimizer.eps, .above(0)),
        number("optimizer.trust_coefficient", \.optimizer.trustCoefficient, .above(0)),
        bool("optimizer.no_decay_bn_bias", \.optimizer.noDecayBNBias),
        stringList("optimizer.lr_scales", \.optimizer.lrScales, example: "[\"fc.*=10\"]", check: LRScale.problem(with:)),
        stringList("optimizer.no_decay", \.optimizer.noDecay, example: "[\"*.bias\"]", check: { _ in nil }),
        number("optimizer.alpha", \.optimizer.alpha, .fraction),
        bool("optimizer.centered", \.optimizer.centered),
        number("optimizer.clip_grad_norm", \.optimizer.clipGradNorm, .atLeast(0)),
        number("optimizer.layer_decay", \.optimizer.layerDecay, .scale),

        number("schedule.warmup_epochs", \.schedule.warmupEpochs, .atLeast(0)),
        number("schedule.warmup_start_factor", \.schedule.warmupStartFactor, .closedFraction),
        choice("schedule.kind", \.schedule.kind, what: "schedule kind"),
        number("schedule.final_lr", \.schedule.finalLR, .atLeast(0)),
        intList("schedule.milestones", \.schedule.milestones, min: 1, increasing: true),
        number("schedule.gamma", \.schedule.gamma, .above(0)),
        bool("schedule.scale_lr_by_batch", \.schedule.scaleLRByBatch),
        choice("schedule.warmup_kind", \.schedule.warmupKind, what: "warm-up kind"),
        int("schedule.step_epochs", \.schedule.stepEpochs, min: 1),
        int("schedule.restart_epochs", \.schedule.restartEpochs, min: 1),
        int("schedule.restart_mult", \.schedule.restartMult, min: 1),
        number("schedule.power", \.schedule.power, .above(0)),
        choice("schedule.weight_decay_kind", \.schedule.weightDecayKind, what: "weight-decay schedule"),
        number("schedule.final_weight_decay", \.schedule.finalWeightDecay, .atLeast(0)),

        bool("distributed.sync_batch_norm", \.distributed.syncBatchNorm),
        number("distributed.bucket_cap_mb", \.distributed.bucketCapMB, .above(0)),
        int("distributed.max_nonfinite_steps", \.distributed.maxNonfiniteSteps, min: 0),
        choice("distributed.shard_tail", \.distributed.shardTail, what: "shard tail"),
        number("distributed.timeout_s", \.distributed.timeoutS, .atLeast(0)),

        int("moco.dim", \.moco.dim, min: 1),
        int("moco.head_hidden", \.moco.headHidden, min: 1),
        int("moco.queue_size", \.moco.queueSize, min: 1),
        number("moco.temperature", \.moco.temperature, .above(0)),
        number("moco.momentum", \.moco.momentum, .closedFraction),
        choice("moco.momentum_schedule", \.moco.momentumSchedule, what: "momentum schedule"),
        choice("moco.key_batch_norm", \.moco.keyBatchNorm, what: "key batch norm"),
        int("moco.key_groups", \.moco.keyGroups, min: 1),
    ] + viewFields("moco", \.moco.views) + [
        int("moco.knn_k", \.moco.knnK, min: 1),
        number("moco.knn_temperature", \.moco.knnTemperature, .above(0)),
        int("moco.knn_every", \.moco.knnEvery, min: 0),
    ] + viewFields("views", \.views) + [
        int("knn.k", \.knn.k, min: 1),
        number("knn.temperature", \.knn.temperature, .above(0)),
        int("knn.every", \.knn.every, min: 0),
        int("simclr.dim", \.simclr.dim, min: 1),
        int("simclr.head_hidden", \.simclr.headHidden, min: 1),
        number("simclr.temperature", \.simclr.temperature, .above(0)),
        choice("simclr.batch_norm", \.simclr.batchNorm, what: "SimCLR batch norm"),
        int("mocov3.dim", \.mocov3.dim, min: 1),
        int("mocov3.mlp_dim", \.mocov3.mlpDim, min: 1),
        number("mocov3.temperature", \.mocov3.temperature, .above(0)),
        number("mocov3.momentum", \.mocov3.momentum, .closedFraction),
        choice("mocov3.momentum_schedule", \.mocov3.momentumSchedule, what: "momentum schedule"),
        choice("mocov3.batch_norm", \.mocov3.batchNorm, what: "MoCo v3 batch norm"),
        bool("mocov3.freeze_patch_embed", \.mocov3.freezePatchEmbed),
        number("mae.mask_ratio", \.mae.maskRatio, .openFraction),
        int("mae.decoder_dim", \.mae.decoderDim, min: 1),
        int("mae.decoder_depth", \.mae.decoderDepth, min: 1),
        int("mae.decoder_heads", \.mae.decoderHeads, min: 1),
        bool("mae.norm_pix_loss", \.mae.normPixLoss),
        int("mae.eval_every", \.mae.evalEvery, min: 0),
        int("mae.grid_images", \.mae.gridImages, min: 1, max: 64),

        int("probe.epochs", \.probe.epochs, min: 1),
        int("probe.batch_size", \.probe.batchSize, min: 1),
        numberList("probe.lrs", \.probe.lrs, .above(0)),
        int("probe.held_out", \.probe.heldOut, min: 0),
        number("probe.momentum", \.probe.momentum, .fraction),
        number("probe.weight_decay", \.probe.weightDecay, .atLeast(0)),

        int("checkpoint.every_iterations", \.checkpoint.everyIterations, min: 0),
        bool("checkpoint.every_epoch", \.checkpoint.everyEpoch),
        int("checkpoint.keep", \.checkpoint.keep, min: 1),

        string("run.dir", \.run.dir),
        int("run.log_every", \.run.logEvery, min: 1),
        choice("run.progress", \.run.progress, what: "progress mode"),
    ]

    /// `fields` by dotted key.
    static let byKey: [String: Field] = Dictionary(uniqueKeysWithValues: fields.map { ($0.key, $0) })

    /// Every dotted key, for suggestions.
    static var keys: [String] { fields.map(\.key) }

    // MARK: - Field builders

    /// Allowed range of a number; `text` completes "must be a number ...".
    enum Bound {
        case atLeast(Double), above(Double), fraction, closedFraction, openFraction, scale, upTo(Double)

        func contains(_ value: Double) -> Bool {
            switch self {
            case let .atLeast(low): return value >= low
            case let .above(low): return value > low
            case .fraction: return value >= 0 && value < 1
            case .closedFraction: return value >= 0 && value <= 1
            case .openFraction: return value > 0 && value < 1
            case .scale: return value > 0 && value <= 1
            case let .upTo(high): return value >= 0 && value <= high
            }
        }

        var text: String {
            switch self {
            case let .atLeast(low): return ">= \(Self.text(low))"
            case let .above(low): return "> \(Self.text(low))"
            case .fraction: return "in [0, 1)"
            case .closedFraction: return "in [0, 1]"
            case .openFraction: return "in (0, 1)"
            case .scale: return "in (0, 1]"
            case let .upTo(high): return "in [0, \(Self.text(high))]"
            }
        }

        /// "0" rather than "0.0" in "must be a number > 0".
        private static func text(_ value: Double) -> String {
            value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : render(value)
        }
    }

    private static func int(_ key: String, _ path: WritableKeyPath<TrainConfig, Int>, min: Int, max: Int? = nil) -> Field {
        Field(key: key, apply: { config, node, origin in
            let value = try ConfigValue.int(node, key, origin)
            guard value >= min else {
                throw ConfigValue.error(origin, key, "must be an integer >= \(min), got \(value)")
            }
            if let max, value > max {
                throw ConfigValue.error(origin, key, "must be an integer <= \(max), got \(value)")
            }
            config[keyPath: path] = value
        }, render: { "\($0[keyPath: path])" })
    }

    private static func number(_ key: String, _ path: WritableKeyPath<TrainConfig, Double>,
                               _ bound: Bound) -> Field {
        Field(key: key, apply: { config, node, origin in
            let value = try ConfigValue.double(node, key, origin)
            guard bound.contains(value) else {
                let typed = node.scalar?.string ?? render(value)
                throw ConfigValue.error(origin, key, "must be a number \(bound.text), got \(typed)")
            }
            config[keyPath: path] = value
        }, render: { render($0[keyPath: path]) })
    }

    /// The two-view augmentation keys of `section` (`moco`, whose configs have always had
    /// them, and `views`), in their table order.
    private static func viewFields(_ section: String, _ views: WritableKeyPath<TrainConfig, TrainConfig.ViewsSection>) -> [Field] {
        [
            number(section + ".crop_min_scale", views.appending(path: \.cropMinScale), .scale),
            number(section + ".flip_p", views.appending(path: \.flipP), .closedFraction),
            number(section + ".jitter_p", views.appending(path: \.jitterP), .closedFraction),
            number(section + ".brightness", views.appending(path: \.brightness), .fraction),
            number(section + ".contrast", views.appending(path: \.contrast), .fraction),
            number(section + ".saturation", views.appending(path: \.saturation), .fraction),
            number(section + ".hue", views.appending(path: \.hue), .upTo(0.5)),
            number(section + ".grayscale_p", views.appending(path: \.grayscaleP), .closedFraction),
            number(section + ".blur_p", views.appending(path: \.blurP), .closedFraction),
            number(section + ".blur_sigma_max", views.appending(path: \.blurSigmaMax), .atLeast(0.1)),
        ]
    }

    private static func bool(_ key: String, _ path: WritableKeyPath<TrainConfig, Bool>) -> Field {
        Field(key: key, apply: { config, node, origin in
            config[keyPath: path] = try ConfigValue.bool(node, key, origin)
        }, render: { $0[keyPath: path] ? "true" : "false" })
    }

    /// A string; `optional` ones may be empty ("" stands for a default worked out later).
    private static func string(_ key: String, _ path: WritableKeyPath<TrainConfig, String>, optional: Bool = false) -> Field {
        Field(key: key, apply: { config, node, origin in
            config[keyPath: path] = try ConfigValue.string(node, key, origin, allowEmpty: optional)
        }, render: { quote($0[keyPath: path]) })
    }

    private static func choice<E: RawRepresentable & CaseIterable>(
        _ key: String, _ path: WritableKeyPath<TrainConfig, E>, what: String
    ) -> Field where E.RawValue == String {
        Field(key: key, apply: { config, node, origin in
            config[keyPath: path] = try ConfigValue.choice(node, key, origin, what: what)
        }, render: { quote($0[keyPath: path].rawValue) })
    }

    private static func intList(_ key: String, _ path: WritableKeyPath<TrainConfig, [Int]>,
                                min: Int, increasing: Bool) -> Field {
        Field(key: key, apply: { config, node, origin in
            var values: [Int] = []
            for element in try ConfigValue.list(node, key, origin, example: "[5, 10]") {
                let here = origin.at(element)
                let value = try ConfigValue.int(element, key, here)
                guard value >= min else {
                    throw ConfigValue.error(here, key, "every element must be an integer >= \(min), got \(value)")
                }
                if increasing, let last = values.last, value <= last {
                    throw ConfigValue.error(here, key,
                                            "must be strictly increasing, got \(value) after \(last)")
                }
                values.append(value)
            }
            config[keyPath: path] = values
        }, render: { "[" + $0[keyPath: path].map(String.init).joined(separator: ", ") + "]" })
    }

    /// A list of numbers, each within `bound`; non-empty unless `optional` ([] stands for a
    /// default worked out later).
    private static func numberList(_ key: String, _ path: WritableKeyPath<TrainConfig, [Double]>, _ bound: Bound, optional: Bool = false) -> Field {
        Field(key: key, apply: { config, node, origin in
            var values: [Double] = []
            for element in try ConfigValue.list(node, key, origin, example: "[0.1, 0.01]") {
                let here = origin.at(element)
                let value = try ConfigValue.double(element, key, here)
                guard bound.contains(value) else {
                    throw ConfigValue.error(here, key, "every element must be a number \(bound.text), got \(element.scalar?.string ?? render(value))")
                }
                values.append(value)
            }
            guard optional || !values.isEmpty else { throw ConfigValue.error(origin, key, "needs at least one number, e.g. [0.1]") }
            config[keyPath: path] = values
        }, render: { "[" + $0[keyPath: path].map(render).joined(separator: ", ") + "]" })
    }

    /// A list of strings; `check` returns a problem with one element, or nil.
    private static func stringList(_ key: String, _ path: WritableKeyPath<TrainConfig, [String]>, example: String,
                                   check: @escaping (String) -> String?) -> Field {
        Field(key: key, apply: { config, node, origin in
            var values: [String] = []
            for element in try ConfigValue.list(node, key, origin, example: example) {
                let here = origin.at(element)
                let value = try ConfigValue.string(element, key, here)
                if let problem = check(value) { throw ConfigValue.error(here, key, problem) }
                values.append(value)
            }
            config[keyPath: path] = values
        }, render: { "[" + $0[keyPath: path].map { JSONString.quoted($0) }.joined(separator: ", ") + "]" })
    }

    /// `optimizer.betas: [b1, b2]`, held as two properties so the length is checked once, here.
    private static func betas() -> Field {
        let key = "optimizer.betas"
        return Field(key: key, apply: { config, node, origin in
            let elements = try ConfigValue.list(node, key, origin, example: "[0.9, 0.999]")
            guard elements.count == 2 else {
                throw ConfigValue.error(origin, key,
                                        "expected exactly two numbers such as [0.9, 0.999], got \(elements.count)")
            }
            var values: [Double] = []
            for element in elements {
                let here = origin.at(element)
                let value = try ConfigValue.double(element, key, here)
                guard Bound.fraction.contains(value) else {
                    throw ConfigValue.error(here, key,
                                            "each beta must be in [0, 1), got \(element.scalar?.string ?? render(value))")
                }
                values.append(value)
            }
            config.optimizer.beta1 = values[0]
            config.optimizer.beta2 = values[1]
        }, render: { "[\(render($0.optimizer.beta1)), \(render($0.optimizer.beta2))]" })
    }

    // MARK: - Rendering

    /// Shortest text that parses back to exactly `value` (Swift's `description` guarantees it),
    /// with a `.0` mantissa in exponent form (`1.0e-08`, not `1e-08`): YAML 1.1 readers such as
    /// PyYAML read `1e-08` as a string, and people load `config.yaml` from Python to plot runs.
    static func render(_ value: Double) -> String {
        let text = "\(value)"
        guard let e = text.firstIndex(of: "e"), !text[..<e].contains(".") else { return text }
        return text[..<e] + ".0" + text[e...]
    }

    /// `text` plain when YAML and `ConfigValue` would read it back as the same string,
    /// double-quoted (with escapes) otherwise.
    static func quote(_ text: String) -> String {
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-")
        let typedWords: Set<String> = ["", "~", "null", "true", "false", "yes", "no", "on", "off"]
        let first = text.first
        let plainOK = !text.isEmpty && text.allSatisfy { safe.contains($0) }
            && first != "-" && first != "." && Double(text) == nil && Int(text) == nil
            && !typedWords.contains(text.lowercased())
        if plainOK { return text }
        // YAML's double-quoted style reads JSON string escapes, so one escaper serves both.
        return JSONString.quoted(text)
    }
}
