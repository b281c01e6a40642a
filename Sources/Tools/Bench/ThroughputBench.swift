import Config
import Datasets
import Engine
import Foundation
import Methods
import MPI
import Training

/// Steady-state training-step throughput, measured the way the PyTorch reference measures it
/// (`shared/bench/torch_ref/bench.py`): warm-up steps, then timed steps, data time counted
/// apart. The step is the `TrainingStep` training runs, built from a config as the trainer
/// builds it: `resnet20` and `mlp` are supervised (SGD lr 0.1, momentum 0.9, wd 5e-4 on every
/// parameter); `moco` is a MoCo v2 step (two views, K 4096, dim 128, T 0.2, m 0.99, shuffle-BN
/// across ranks; SGD lr 0.03, wd 1e-4); `vit` is the supervised ViT of `configs/fashion-vit.yaml`
/// (patch 4, dim 96, depth 6, heads 4, MLP ratio 2) with AdamW lr 1e-3, wd 0.05 off biases,
/// norms and the class and position tokens — as the reference's bench; `mocov3` is MoCo v3 on
/// that ViT (3-layer projector 512 → 128, predictor, T 0.2, m 0.99, per-rank batch norm as the
/// reference runs it on CPUs; AdamW lr 1.5e-4 × global batch / 256, wd 0.1 on every
/// parameter); `simclr` is SimCLR on ResNet-20 (projector 64 → 64 → 128, NT-Xent T 0.5 over
/// the gathered batch, per-rank batch norm; SGD lr 0.3, momentum 0.9, wd 1e-6); `mae` is MAE on
/// that ViT (decoder 64 wide, 2 blocks of 4 heads, 75 % of the patches masked, norm_pix_loss;
/// AdamW lr 1.5e-4 × global batch / 256, betas 0.9 / 0.95, wd 0.05 off biases, norms and the
/// class token).
///
/// Under `mpirun` every rank trains its own batch and gradients are averaged, as in
/// training: images/s is global (slowest rank's time), peak RSS the largest of any rank, and
/// the step is broken down into compute, communication (a blocking allreduce of the same
/// buckets) and communication not hidden by backward.
public struct ThroughputBench {
    /// The workloads `bench.py` has too.
    public enum Model: String, CaseIterable, Sendable {
        case resnet20, mlp, moco, vit, mocov3, simclr, mae

        /// Whether the workload trains on two augmented views of each image.
        var hasTwoViews: Bool { self == .moco || self == .mocov3 || self == .simclr }
    }

    public var model: Model
    public var threads: Int
    public var batch: Int
    public var steps: Int
    public var warmup: Int
    /// Whether to time every op of the timed steps (`OpProfile`) and report the table.
    public var profile = false

    public init(model: Model, threads: Int, batch: Int? = nil, steps: Int = 30, warmup: Int = 8) {
        self.model = model
        self.threads = threads
        self.batch = batch ?? (model == .mlp ? 256 : 128)
        self.steps = steps
        self.warmup = warmup
    }

    /// The training config the workload is: the model, the method and a constant-rate SGD.
    public var config: TrainConfig {
        var config = TrainConfig()
        config.model.name = [.mlp: .mlp, .vit: .vit, .mocov3: .vit, .mae: .vit][model] ?? .resnet20
        config.model.mlpHidden = [1024, 1024]
        config.train.method = [.moco: .moco, .mocov3: .mocov3, .simclr: .simclr, .mae: .mae][model] ?? .supervised
        config.train.batchSize = batch
        config.train.threads = threads
        config.schedule.warmupEpochs = 0
        config.schedule.kind = .constant
        if model == .mae {
            config.model.posEmbed = .sincos
            config.optimizer.name = .adamw
            config.optimizer.lr = 1.5e-4
            config.optimizer.beta2 = 0.95
            config.schedule.scaleLRByBatch = true
            config.optimizer.weightDecay = 0.05
            config.optimizer.noDecayBNBias = true
            config.optimizer.noDecay = ["cls_token"]
            return config
        }
        if model == .mocov3 {
            config.mocov3.batchNorm = .local
            config.mocov3.momentumSchedule = .constant
            config.optimizer.name = .adamw
            config.optimizer.lr = 1.5e-4
            config.schedule.scaleLRByBatch = true
            config.optimizer.weightDecay = 0.1
            config.optimizer.noDecayBNBias = false
            return config
        }
        if model == .simclr {
            config.simclr.batchNorm = .local
            config.simclr.headHidden = 64
            config.simclr.temperature = 0.5
            config.optimizer.name = .sgd
            config.optimizer.lr = 0.3
            config.optimizer.momentum = 0.9
            config.optimizer.weightDecay = 1e-6
            config.optimizer.noDecayBNBias = false
            return config
        }
        if model == .vit {
            config.optimizer.name = .adamw
            config.optimizer.lr = 1e-3
            config.optimizer.weightDecay = 0.05
            config.optimizer.noDecayBNBias = true
            config.optimizer.noDecay = ["cls_token", "pos_embed"]
            return config
        }
        config.optimizer.name = .sgd
        config.optimizer.lr = model == .moco ? 0.03 : 0.1
        config.optimizer.momentum = 0.9
        config.optimizer.weightDecay = model == .moco ? 1e-4 : 5e-4
        config.optimizer.noDecayBNBias = false
        return config
    }

    /// Result of one run, printed as one JSON line.
    public struct Result {
        public var fields: [String: MetricValue]
        /// `OpProfile`'s table for a person to read, when profiling.
        public var profile: String?
        public init(fields: [String: MetricValue], profile: String? = nil) { (self.fields, self.profile) = (fields, profile) }
        public var json: String { MetricValue.jsonObject(fields) }
    }

    /// Runs the benchmark on `batches` (`BenchBatches`: real Fashion-MNIST batches or random
    /// ones, a second view for `moco`).
    public func run(batches: BenchBatches, world: Communicator = .single()) throws -> Result {
        let config = self.config
        ProcessSetup.configure(threads: threads, model: config.model.name)
        var rng = RandomGenerator(seed: 0, purpose: .initialization)
        let context = MethodContext(config: config, world: world, data: nil, scheduledIterations: warmup + steps)
        let objective = try MethodRegistry.objective(context, rng: &rng)
        objective.setTraining(true)
        let step = try TrainingStep(config: config, objective: objective, world: world, iterationsPerEpoch: warmup + steps)
        var profileTable: String?
        var stepTimes: [Double] = [], dataTimes: [Double] = [], exposedTimes: [Double] = []
        var totals = EpochTotals()
        var lastLoss = Float.nan
        for i in 0..<(warmup + steps) {
            if profile && i == warmup { OpProfile.isEnabled = true; OpProfile.reset() }
            let t0 = MonotonicClock.seconds()
            let batch = try batches.next()
            let t1 = MonotonicClock.seconds()
            let result = try step.run(iteration: i, totals: &totals, next: { batch })
            let t2 = MonotonicClock.seconds()
            lastLoss = result.loss
            if i >= warmup { dataTimes.append(t1 - t0); stepTimes.append(t2 - t1); exposedTimes.append(result.exposedCommunicationSeconds) }
        }
        OpProfile.isEnabled = false
        let communication = try (0..<5).map { _ in try step.reducer.timeBlockingReduce() }
        // The slowest rank sets the pace; memory is the largest rank's.
        var slowest = [stepTimes.reduce(0, +), dataTimes.reduce(0, +), ProcessMemory.peakRSSMiB()]
        try slowest.withUnsafeMutableBufferPointer { try world.allreduce($0, op: .max) }
        let (stepTotal, dataTotal, peakRSS) = (slowest[0], slowest[1], slowest[2])
        let images = Double(batch * steps * world.size)
        let exposed = Self.median(exposedTimes)
        var profileFields: [String: MetricValue] = [:]
        if profile {
            let peak = OpProfile.fmaPeakGFLOPs()
            profileFields["fma_peak_gflops"] = .double(peak.rounded(to: 1))
            for (name, e) in OpProfile.entries {
                profileFields["profile." + name + "_ms"] = .double((e.seconds / Double(steps) * 1000).rounded(to: 2))
            }
            profileTable = OpProfile.table(steps: steps, stepSeconds: stepTimes.reduce(0, +) / Double(steps), peak: peak)
        }
        return Result(fields: profileFields.merging([
            "model": .string(model.rawValue), "threads": .int(threads), "batch": .int(batch), "steps": .int(steps),
            "warmup": .int(warmup), "ranks": .int(world.size),
            "compute_ms": .double(((Self.median(stepTimes) - exposed) * 1000).rounded(to: 2)),
            "communication_ms": .double((Self.median(communication) * 1000).rounded(to: 2)),
            "exposed_communication_ms": .double((exposed * 1000).rounded(to: 2)),
            "buckets": .int(step.reducer.bucketSizes.count),
            "images_per_s": .double((images / stepTotal).rounded(to: 1)),
            "images_per_s_e2e": .double((images / (stepTotal + dataTotal)).rounded(to: 1)),
            "step_ms_median": .double((Self.median(stepTimes) * 1000).rounded(to: 2)),
            "step_ms_min": .double(((stepTimes.min() ?? 0) * 1000).rounded(to: 2)),
            "data_ms_median": .double((Self.median(dataTimes) * 1000).rounded(to: 3)),
            "peak_rss_mib": .double(peakRSS.rounded(to: 1)),
            "final_loss": .double(Double(lastLoss).rounded(to: 4)),
            "blas_core": .string(BLAS.coreName),
            "conv_kernels": .string(ShiftedGemm.kernels.rawValue),
            "tile_kernels": .string(TokenGemm.kernelDescription),
            "openblas_coretype_env": .string(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? ""),
            "blas_choice": .string(BLASCoreChoice.origin()),
            "data": .string(batches.source),
            "engine": "concord",
        ]) { $1 }, profile: profileTable)
    }

    static func median(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return 0 }
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

extension Double {
    func rounded(to places: Int) -> Double {
        let f = pow(10, Double(places))
        return (self * f).rounded() / f
    }
}
