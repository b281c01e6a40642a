/// The resolved configuration of one run: what is trained (`model`, `data`, `train`,
/// `optimizer`, `schedule`, `distributed`, each method's section), how it is saved and shown
/// (`checkpoint`, `run`), and how a pre-trained trunk is evaluated (`probe`).
///
/// Every property has a default, so `TrainConfig()` is a complete, valid configuration and a
/// YAML file only needs the keys it changes. Values built in code are not range-checked; values
/// that come through `ConfigLoader` (files and `--set` overrides) are.
///
/// The YAML key of each property is its snake_case name under its section, e.g.
/// `train.batch_size` ↔ `train.batchSize`. The one exception is `optimizer.betas: [b1, b2]`,
/// held as `optimizer.beta1` / `optimizer.beta2` so a wrong-length list can't exist in memory.
public struct TrainConfig: Equatable, Sendable {
    /// `model:` — which network to build.
    public var model = ModelSection()
    /// `data:` — where the data comes from and how it is augmented.
    public var data = DataSection()
    /// `train:` — length of the run, batch size, seeds and threads.
    public var train = TrainSection()
    /// `optimizer:` — the update rule and its hyper-parameters.
    public var optimizer = OptimizerSection()
    /// `schedule:` — how the learning rate changes over the run.
    public var schedule = ScheduleSection()
    /// `distributed:` — how ranks share the work (ignored by a single process).
    public var distributed = DistributedSection()
    /// `checkpoint:` — when state is saved; never changes the trained weights.
    public var checkpoint = CheckpointSection()
    /// `run:` — where outputs go and how progress is shown; never changes the trained weights.
    public var run = RunSection()
    /// `moco:` — momentum-contrast pre-training (used when `train.method` is `moco`).
    public var moco = MoCoSection()
    /// `probe:` — the linear probe `concord probe` trains on frozen features.
    public var probe = ProbeSection()
    /// `views:` — the two augmented views SimCLR and MoCo v3 compare.
    public var views = ViewsSection()
    /// `knn:` — the kNN monitor of SimCLR and MoCo v3 pre-training.
    public var knn = KNNSection()
    /// `simclr:` — SimCLR pre-training (used when `train.method` is `simclr`).
    public var simclr = SimCLRSection()
    /// `mocov3:` — MoCo v3 pre-training (used when `train.method` is `mocov3`).
    public var mocov3 = MoCoV3Section()
    /// `mae:` — masked-autoencoder pre-training (used when `train.method` is `mae`).
    public var mae = MAESection()

    /// The default configuration (ResNet-20 on Fashion-MNIST, SGD, warm-up then cosine).
    public init() {}

    /// The learning rate the schedule starts from: `optimizer.lr`, multiplied by
    /// global batch / 256 when `schedule.scale_lr_by_batch` is set (the linear scaling rule).
    ///
    /// `final_lr` is not scaled: it is an absolute floor, usually 0.
    /// - Parameter worldSize: number of processes; the global batch is `batch_size × worldSize`.
    public func baseLR(worldSize: Int) -> Double {
        guard schedule.scaleLRByBatch else { return optimizer.lr }
        return optimizer.lr * Double(train.batchSize * max(worldSize, 1)) / 256
    }

    // MARK: - Sections

    /// `data:` section.
    public struct DataSection: Equatable, Sendable {
        /// `data.dataset`: the data set's name; `fashion-mnist` (the default) supplies
        /// Fashion-MNIST's file names and normalisation when `data.format` is `idx`.
        public var dataset: DatasetName = .fashionMNIST
        /// `data.format`: how the files are laid out — `idx` (MNIST family), `cifar` (CIFAR-10 /
        /// CIFAR-100 binary batches), `numpy` (`.npy` / `.npz`) or `folder` (PNG / JPEG files in
        /// one folder per class, torchvision's `ImageFolder`).
        public var format: DataFormat = .idx
        /// `data.path`: the directory the files are in (file keys are relative to it).
        public var path = "/usr/share/datasets/fashion-mnist"
        /// `data.train_images`, `data.train_labels`, `data.test_images`, `data.test_labels`:
        /// IDX file names, or NumPy arrays as `file.npy` or `file.npz:key`; empty means the
        /// format's defaults (Fashion-MNIST's names; `train.npz:images`, `train.npz:labels`, …).
        public var trainImages = "", trainLabels = "", testImages = "", testLabels = ""
        /// `data.transpose`: images are stored transposed (EMNIST's IDX files): read them upright.
        public var transpose = false
        /// `data.cifar_labels`: CIFAR-100's `fine` (100) or `coarse` (20) classes.
        public var cifarLabels: CIFARLabels = .fine
        /// `data.layout`: where a NumPy image array's channels are (`auto` reads the shape).
        public var layout: ImageLayout = .auto
        /// `data.mean`, `data.std`: per-channel normalisation (one value: every channel); empty
        /// means Fashion-MNIST's constants for Fashion-MNIST and otherwise the training set's own,
        /// computed at start and written to the log.
        public var mean: [Double] = [], std: [Double] = []
        /// `data.image_size`: image folders only — resize each image's shorter side to this and
        /// cut the central square (torchvision's `Resize` + `CenterCrop`); 0 keeps the files'
        /// size, which must then be the same for all.
        public var imageSize = 0
        /// `data.cache_dir`: where decoded image folders and CIFAR batches are cached, one file
        /// per split, per node; empty means `<run.dir>/data-cache`. Never changes the training.
        public var cacheDir = ""
        /// `data.skip_bad_images`: image folders only — leave out images that cannot be decoded
        /// (counted and logged) instead of stopping with an error.
        public var skipBadImages = false
        /// `data.test_fraction`: in [0, 1); above 0, this fraction of the training images, drawn
        /// with `data.split_seed`, is held out as the test set (the source's own test split is
        /// not read).
        public var testFraction = 0.0
        /// `data.split_seed`: the seed of the held-out split (≥ 0).
        public var splitSeed = 0
        /// Keys left out of the config hash while they have their defaults, so configs written
        /// before they existed keep their hash.
        public static let hashedWhenSet: [String: (DataSection) -> Bool] = [
            "data.format": { $0.format != .idx }, "data.train_images": { !$0.trainImages.isEmpty },
            "data.train_labels": { !$0.trainLabels.isEmpty }, "data.test_images": { !$0.testImages.isEmpty },
            "data.test_labels": { !$0.testLabels.isEmpty }, "data.transpose": { $0.transpose },
            "data.cifar_labels": { $0.cifarLabels != .fine }, "data.layout": { $0.layout != .auto },
            "data.mean": { !$0.mean.isEmpty }, "data.std": { !$0.std.isEmpty },
            "data.image_size": { $0.imageSize != 0 }, "data.cache_dir": { _ in false },
            "data.skip_bad_images": { $0.skipBadImages }, "data.test_fraction": { $0.testFraction != 0 },
            "data.split_seed": { $0.testFraction != 0 },
        ]
        /// `data.augment`: random crop (after padding) and horizontal flip for training batches.
        public var augment = true
        /// `data.pad`: zero padding in pixels on each side before the random crop (≥ 0).
        public var pad = 2
        /// Defaults.
        public init() {}
    }

    /// `train:` section.
    public struct TrainSection: Equatable, Sendable {
        /// `train.epochs` (≥ 1).
        public var epochs = 15
        /// `train.batch_size`: samples per process per step; the global batch is this × world size.
        public var batchSize = 128
        /// `train.seed`: seeds weight init, the sampler and every rank's augmentation stream (≥ 0).
        public var seed = 0
        /// `train.label_smoothing`, in [0, 1).
        public var labelSmoothing = 0.0
        /// `train.eval_every`: evaluate on the test set every this many epochs and after the last
        /// (≥ 0; 0 never evaluates, for quick checks).
        public var evalEvery = 1
        /// `train.threads`: cores one process uses (≥ 1): the engine's convolution kernels for
        /// convolutional models, OpenBLAS for the MLP. One per rank when ranks = cores.
        public var threads = 1
        /// `train.iterations`: stop after this many optimizer steps in all (≥ 0; 0 runs every
        /// epoch to the end). The schedule still spans `epochs`.
        public var iterations = 0
        /// `train.accumulation_steps`: micro-batches per optimizer step (≥ 1); `batch_size` is
        /// split evenly among them and the gradients are reduced once per step.
        public var accumulationSteps = 1
        /// `train.method`: supervised classification, or pre-training without labels with
        /// MoCo v2 (the `moco:` section), SimCLR (`simclr:`), MoCo v3 (`mocov3:`) or MAE
        /// (`mae:`).
        public var method: TrainMethod = .supervised
        /// Defaults.
        public init() {}
    }

    /// `checkpoint:` section. Checkpoints go to `<run.dir>/checkpoints/iter-<N>.ckpt`.
    public struct CheckpointSection: Equatable, Sendable {
        /// `checkpoint.every_iterations`: also save every this many iterations (≥ 0; 0: only at
        /// epoch ends and on SIGTERM / SIGINT).
        public var everyIterations = 0
        /// `checkpoint.every_epoch`: save at the end of every epoch.
        public var everyEpoch = true
        /// `checkpoint.keep`: how many of the newest checkpoints to keep (≥ 1).
        public var keep = 3
        /// Defaults.
        public init() {}
    }

    /// `distributed:` section.
    public struct DistributedSection: Equatable, Sendable {
        /// `distributed.sync_batch_norm`: batch statistics over every rank's batch
        /// (SyncBatchNorm) instead of each rank's own (the default, as PyTorch DDP).
        public var syncBatchNorm = false
        /// `distributed.bucket_cap_mb`: gradient bucket size for the overlapped allreduce (> 0).
        public var bucketCapMB = 1.0
        /// `distributed.max_nonfinite_steps`: steps with a non-finite gradient on some rank are
        /// skipped on all ranks; the run stops when more than this many occurred (≥ 0).
        public var maxNonfiniteSteps = 3
        /// `distributed.shard_tail`: what happens to the examples left over when the training set
        /// does not divide by the number of ranks.
        public var shardTail: ShardTail = .drop
        /// `distributed.timeout_s`: a collective that waits longer than this many seconds ends
        /// the job naming the silent rank (≥ 0; 0 waits forever). Never changes the training.
        public var timeoutS = 600.0
        /// Defaults.
        public init() {}
    }

    /// `optimizer:` section.
    public struct OptimizerSection: Equatable, Sendable {
        /// `optimizer.name`.
        public var name: OptimizerName = .sgd
        /// `optimizer.lr`: peak learning rate (> 0), before the optional batch scaling.
        public var lr = 0.1
        /// `optimizer.momentum` (SGD, LARS), in [0, 1).
        public var momentum = 0.9
        /// `optimizer.nesterov` (SGD with momentum > 0 only).
        public var nesterov = false
        /// `optimizer.weight_decay` (≥ 0); decoupled for AdamW.
        public var weightDecay = 5e-4
        /// First element of `optimizer.betas` (AdamW), in [0, 1).
        public var beta1 = 0.9
        /// Second element of `optimizer.betas` (AdamW), in [0, 1).
        public var beta2 = 0.999
        /// `optimizer.eps` (AdamW), > 0.
        public var eps = 1e-8
        /// `optimizer.trust_coefficient` (LARS), > 0.
        public var trustCoefficient = 0.001
        /// `optimizer.no_decay_bn_bias`: exempt batch-norm parameters and biases from weight decay.
        /// (LARS exempts every 1-d parameter from decay and trust-ratio scaling regardless.)
        public var noDecayBNBias = true
        /// `optimizer.lr_scales`: parameter-name patterns (shell globs on dotted names) with a
        /// learning-rate multiplier, `"PATTERN=SCALE"`, first match wins; e.g. `["fc.*=10"]`.
        public var lrScales: [String] = []
        /// `optimizer.no_decay`: parameter-name patterns exempt from weight decay, e.g. `["*.bias"]`.
        public var noDecay: [String] = []
        /// `optimizer.alpha` (RMSProp): smoothing of the squared-gradient average, in [0, 1).
        public var alpha = 0.99
        /// `optimizer.centered` (RMSProp): divide by the gradient's variance instead of its
        /// second moment.
        public var centered = false
        /// `optimizer.clip_grad_norm`: scale the reduced gradients down to this global 2-norm
        /// before each step (0 = no clipping).
        public var clipGradNorm = 0.0
        /// `optimizer.layer_decay` (ViT): block i of a depth-D ViT trains at decay^(D − i) ×
        /// the rate, the embeddings at decay^(D + 1), norm and head at 1 (1 = off).
        public var layerDecay = 1.0
        /// Keys left out of the config hash while they have their defaults, so configs that
        /// do not use them keep the hash they had before the keys existed.
        public static let hashedWhenSet: [String: (OptimizerSection) -> Bool] = [
            "optimizer.alpha": { $0.alpha != 0.99 }, "optimizer.centered": { $0.centered },
            "optimizer.clip_grad_norm": { $0.clipGradNorm != 0 }, "optimizer.layer_decay": { $0.layerDecay != 1 },
        ]
        /// Defaults.
        public init() {}
    }

    /// `schedule:` section (learning rate over the run; positions are in epochs and may be
    /// fractional where noted, converted to iterations by the coordinator).
    public struct ScheduleSection: Equatable, Sendable {
        /// `schedule.warmup_epochs`: linear warm-up length in epochs (≥ 0, fractional allowed).
        public var warmupEpochs = 1.0
        /// `schedule.warmup_start_factor`: warm-up starts at this fraction of the base lr, in [0, 1].
        public var warmupStartFactor = 0.1
        /// `schedule.warmup_kind`: linear, or exponential (geometric growth; needs a start factor > 0).
        public var warmupKind: WarmupKind = .linear
        /// `schedule.kind`: what follows the warm-up.
        public var kind: ScheduleKind = .cosine
        /// `schedule.final_lr`: where cosine ends (≥ 0).
        public var finalLR = 0.0
        /// `schedule.milestones`: epochs at which multistep multiplies the lr by `gamma`
        /// (strictly increasing, ≥ 1).
        public var milestones: [Int] = []
        /// `schedule.gamma`: multistep factor (> 0).
        public var gamma = 0.1
        /// `schedule.scale_lr_by_batch`: apply the linear scaling rule, see `TrainConfig.baseLR`.
        public var scaleLRByBatch = false
        /// `schedule.step_epochs`: `step` multiplies the lr by `gamma` every this many epochs (≥ 1).
        public var stepEpochs = 30
        /// `schedule.restart_epochs`: `cosine_restarts` first cycle length in epochs (SGDR t0, ≥ 1).
        public var restartEpochs = 10
        /// `schedule.restart_mult`: each `cosine_restarts` cycle is this many times longer (t_mult, ≥ 1).
        public var restartMult = 1
        /// `schedule.power`: exponent of the `polynomial` decay (> 0; 1 is linear).
        public var power = 1.0
        /// `schedule.weight_decay_kind`: constant, or cosine from `optimizer.weight_decay` to
        /// `final_weight_decay` over the run.
        public var weightDecayKind: WeightDecayKind = .constant
        /// `schedule.final_weight_decay`: where the cosine weight-decay schedule ends (≥ 0).
        public var finalWeightDecay = 0.0
        /// Defaults.
        public init() {}
    }

    /// `run:` section.
    public struct RunSection: Equatable, Sendable {
        /// `run.dir`: the run directory. The loader defaults it to `runs/<config file stem>`;
        /// relative paths are relative to the working directory, not to the config file.
        public var dir = "runs/default"
        /// `run.log_every`: iterations between plain progress lines and TensorBoard points (≥ 1).
        public var logEvery = 50
        /// `run.progress`: how rank 0 shows progress.
        public var progress: ProgressMode = .auto
        /// Defaults.
        public init() {}
    }

    /// `moco:` section: MoCo v2 as facebookresearch/moco defines it, sized for 28×28 images.
    public struct MoCoSection: Equatable, Sendable {
        /// `moco.dim`: width of the normalised embedding the loss compares (≥ 1).
        public var dim = 128
        /// `moco.head_hidden`: width of the MLP head's hidden layer (`fc.0`, ≥ 1).
        public var headHidden = 64
        /// `moco.queue_size`: negatives kept (K ≥ 1); any K works, the queue wraps around.
        public var queueSize = 4096
        /// `moco.temperature`: the InfoNCE softmax temperature (> 0).
        public var temperature = 0.2
        /// `moco.momentum`: the key encoder's EMA momentum m (in [0, 1]); with a `cosine`
        /// schedule, where it starts.
        public var momentum = 0.99
        /// `moco.momentum_schedule`: constant m, or a cosine rise from m to 1 over the run.
        public var momentumSchedule: MomentumSchedule = .constant
        /// `moco.key_batch_norm`: how the key encoder's batch statistics are kept from seeing
        /// a query's own batch.
        public var keyBatchNorm: KeyBatchNorm = .shuffle
        /// `moco.key_groups`: groups each rank's key batch is split into for batch-norm
        /// statistics after the shuffle (≥ 1); one process with G groups behaves like G ranks.
        public var keyGroups = 1
        /// `moco.crop_min_scale`, `flip_p`, `jitter_p`, `brightness`, `contrast`, `blur_p`,
        /// `blur_sigma_max`: the two views, with the meaning of the `views:` keys SimCLR and MoCo
        /// v3 read (MoCo v2's configs have always had them here).
        public var views = ViewsSection()
        /// `moco.knn_k`: neighbours of the kNN monitor (≥ 1).
        public var knnK = 200
        /// `moco.knn_temperature`: the kNN monitor's similarity temperature (> 0).
        public var knnTemperature = 0.1
        /// `moco.knn_every`: kNN accuracy on the test set every this many epochs and after the
        /// last (≥ 0; 0 never).
        public var knnEvery = 1
        /// Defaults.
        public init() {}

    }

    /// `probe:` section: the linear classifier `concord probe` trains on frozen, standardised
    /// features (SGD with momentum, one warm-up epoch then cosine, no weight decay by default).
    public struct ProbeSection: Equatable, Sendable {
        /// `probe.epochs` (≥ 1).
        public var epochs = 30
        /// `probe.batch_size`: feature vectors per process per step (≥ 1).
        public var batchSize = 256
        /// `probe.lrs`: candidate peak learning rates (each > 0). With more than one, each is
        /// tried on the training set minus `held_out` images and the best on those is used.
        public var lrs = [1.0, 0.3, 0.1, 0.03, 0.01]
        /// `probe.held_out`: training images (the last ones) that pick the learning rate
        /// (≥ 0; 0 uses the first candidate).
        public var heldOut = 5000
        /// `probe.momentum`, in [0, 1).
        public var momentum = 0.9
        /// `probe.weight_decay` (≥ 0).
        public var weightDecay = 0.0
        /// Defaults.
        public init() {}
    }

    // MARK: - Choices

    /// Valid `train.method` values.
    public enum TrainMethod: String, CaseIterable, Sendable {
        /// Classification with labels (cross-entropy).
        case supervised
        /// MoCo v2 contrastive pre-training; labels are used only by the kNN monitor.
        case moco
        /// SimCLR contrastive pre-training (NT-Xent over the global batch).
        case simclr
        /// MoCo v3 contrastive pre-training (momentum encoder, predictor, symmetric loss).
        case mocov3
        /// Masked-autoencoder pre-training of a ViT.
        case mae

        /// The config sections this method reads beyond the common ones (hashed with them).
        public var sections: [String] {
            switch self {
            case .supervised: return []
            case .moco: return ["moco"]
            case .simclr: return ["views", "simclr"]
            case .mocov3: return ["views", "mocov3"]
            case .mae: return ["mae"]
            }
        }
    }

    /// Valid `moco.momentum_schedule` values.
    public enum MomentumSchedule: String, CaseIterable, Sendable {
        /// m throughout.
        case constant
        /// 1 − (1 − m)·(cos(πt/T) + 1)/2: from m at the start to 1 at the end.
        case cosine
    }

    /// Valid `moco.key_batch_norm` values.
    public enum KeyBatchNorm: String, CaseIterable, Sendable {
        /// Shuffle-BN: the key batch is gathered, permuted (rank 0's permutation), encoded in
        /// slices and un-shuffled; with one process, `key_groups` groups on a shuffled assignment.
        case shuffle
        /// SyncBatchNorm in the key encoder: statistics over every rank's key batch (the query
        /// encoder's follow `distributed.sync_batch_norm`).
        case sync
        /// Each rank's own batch statistics (lets the task be solved through them).
        case local
    }

    /// Valid `data.dataset` values.
    public enum DatasetName: String, CaseIterable, Sendable {
        case fashionMNIST = "fashion-mnist"
        /// Any other data set (its statistics are computed).
        case custom
    }

    /// Valid `data.format` values.
    public enum DataFormat: String, CaseIterable, Sendable {
        case idx, cifar, numpy, folder
    }

    /// Valid `data.cifar_labels` values.
    public enum CIFARLabels: String, CaseIterable, Sendable {
        case fine, coarse
    }

    /// Valid `data.layout` values.
    public enum ImageLayout: String, CaseIterable, Sendable {
        case auto, nchw, nhwc
    }

    /// Valid `optimizer.name` values.
    public enum OptimizerName: String, CaseIterable, Sendable {
        case sgd, adamw, lars, rmsprop
    }

    /// Valid `distributed.shard_tail` values.
    public enum ShardTail: String, CaseIterable, Sendable {
        /// Leave out the last `count % ranks` examples of each epoch's permutation.
        case drop
        /// Repeat the first examples of the permutation so every rank gets the same count.
        case pad
    }

    /// Valid `schedule.kind` values (the shape after warm-up).
    public enum ScheduleKind: String, CaseIterable, Sendable {
        case cosine, constant, multistep, step, polynomial
        case cosineRestarts = "cosine_restarts"
    }

    /// Valid `schedule.warmup_kind` values.
    public enum WarmupKind: String, CaseIterable, Sendable { case linear, exponential }

    /// Valid `schedule.weight_decay_kind` values.
    public enum WeightDecayKind: String, CaseIterable, Sendable { case constant, cosine }
}

/// Valid `run.progress` values.
public enum ProgressMode: String, CaseIterable, Sendable {
    /// A bar when stdout is a terminal that can redraw a line (`TERM` is not `dumb`),
    /// plain lines otherwise.
    case auto
    /// A bar whenever stdout is a terminal, even a `dumb` one; plain lines when it is not
    /// (carriage returns in a log file are noise).
    case bar
    /// Plain lines every `run.log_every` iterations.
    case plain
    /// Nothing on stdout (the run directory still gets metrics and log).
    case none
}
