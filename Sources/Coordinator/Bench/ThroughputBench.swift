import Data
import Engine
import Foundation
import MPI

/// Steady-state training-step throughput, measured the way the PyTorch reference measures it
/// (`shared/bench/torch_ref/bench.py`): warm-up steps, then timed steps of
/// forward + backward + SGD step (lr 0.1, momentum 0.9, wd 5e-4), data time counted apart.
/// `moco` is a MoCo v2 step as training runs it (two views, K 4096, dim 128, T 0.2, m 0.99,
/// shuffle-BN across ranks; SGD lr 0.03, wd 1e-4, as the reference's bench).
///
/// Under `mpirun` every rank trains its own batch and gradients are averaged by the
/// `GradientReducer`, as in training: images/s is global (slowest rank's time), peak RSS the
/// largest of any rank, and the step is broken down into compute, communication (a blocking
/// allreduce of the same buckets) and communication not hidden by backward.
public struct ThroughputBench {
    public enum Model: String, CaseIterable { case resnet20, mlp, moco }

    public var model: Model
    public var threads: Int
    public var batch: Int
    public var steps: Int
    public var warmup: Int

    public init(model: Model, threads: Int, batch: Int? = nil, steps: Int = 30, warmup: Int = 8) {
        self.model = model
        self.threads = threads
        self.batch = batch ?? (model == .mlp ? 256 : 128)
        self.steps = steps
        self.warmup = warmup
    }

    /// Result of one run, printed as one JSON line.
    public struct Result {
        public var fields: [String: Any]
        public init(fields: [String: Any]) { self.fields = fields }
        public var json: String {
            let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// Runs the benchmark; `nextBatch(i)` supplies batch `i` (images [B,1,28,28] and labels;
    /// for `moco` also the second view).
    public func run(dataSource: String, world: Communicator = .single(),
                    nextBatch: (Int) throws -> Batch) throws -> Result {
        Parallel.configure(threads: threads, convolutional: model != .mlp)
        BatchReduction.configure(worldSize: world.size)
        var rng = RandomGenerator(seed: 0, purpose: .initialization)
        var config = TrainConfig()
        config.train.batchSize = batch
        config.train.method = model == .moco ? .moco : .supervised
        config.model.name = model == .mlp ? .mlp : .resnet20
        config.model.mlpHidden = [1024, 1024]
        let objective: any TrainingObjective = model == .moco
            ? try MoCoObjective(config: config, world: world, monitor: nil, iterations: warmup + steps, rng: &rng)
            : SupervisedObjective(config: config, world: world, testSet: nil, rng: &rng)
        objective.setTraining(true)
        let opt = SGD(groups: [ParameterGroup(name: "all", parameters: objective.parameters, weightDecay: model == .moco ? 1e-4 : 5e-4)],
                      lr: model == .moco ? 0.03 : 0.1, momentum: 0.9)
        let reducer = try GradientReducer(parameters: objective.parameters, communicator: world)
        try reducer.synchronize(objective.parameters + objective.buffers)
        var stepTimes: [Double] = [], dataTimes: [Double] = [], exposedTimes: [Double] = []
        var lastLoss: Float = .nan
        for i in 0..<(warmup + steps) {
            let t0 = Clock.now()
            let batch = try nextBatch(i)
            let t1 = Clock.now()
            opt.zeroGrad()
            try reducer.beginStep(i)
            let (loss, _) = try objective.forward(batch, iteration: i)
            loss.backward()
            let reduced = try reducer.finish()
            opt.step()
            try objective.finishStep(iteration: i)
            lastLoss = loss.item
            let t2 = Clock.now()
            if i >= warmup { dataTimes.append(t1 - t0); stepTimes.append(t2 - t1); exposedTimes.append(reduced.exposedSeconds) }
        }
        let communication = try (0..<5).map { _ in try reducer.timeBlockingReduce() }
        // The slowest rank sets the pace; memory is the largest rank's.
        var totals = [stepTimes.reduce(0, +), dataTimes.reduce(0, +), Self.peakRSSMiB()]
        try totals.withUnsafeMutableBufferPointer { try world.allreduce($0, op: .max) }
        let (stepTotal, dataTotal, peakRSS) = (totals[0], totals[1], totals[2])
        let images = Double(batch * steps * world.size)
        let exposed = Self.median(exposedTimes)
        return Result(fields: [
            "model": model.rawValue, "threads": threads, "batch": batch, "steps": steps, "warmup": warmup,
            "ranks": world.size,
            "compute_ms": ((Self.median(stepTimes) - exposed) * 1000).rounded(to: 2),
            "communication_ms": (Self.median(communication) * 1000).rounded(to: 2),
            "exposed_communication_ms": (exposed * 1000).rounded(to: 2),
            "buckets": reducer.bucketSizes.count,
            "images_per_s": (images / stepTotal).rounded(to: 1),
            "images_per_s_e2e": (images / (stepTotal + dataTotal)).rounded(to: 1),
            "step_ms_median": (Self.median(stepTimes) * 1000).rounded(to: 2),
            "step_ms_min": ((stepTimes.min() ?? 0) * 1000).rounded(to: 2),
            "data_ms_median": (Self.median(dataTimes) * 1000).rounded(to: 3),
            "peak_rss_mib": peakRSS.rounded(to: 1),
            "final_loss": Double(lastLoss).rounded(to: 4),
            "blas_core": BLAS.coreName,
            "conv_kernels": ShiftedGemm.kernels.rawValue,
            "openblas_coretype_env": ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "",
            "data": dataSource,
            "engine": "concord",
        ])
    }

    static func median(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return 0 }
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Peak resident set size of this process (getrusage ru_maxrss, KiB on Linux).
    public static func peakRSSMiB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}

extension Double {
    func rounded(to places: Int) -> Double {
        let f = pow(10, Double(places))
        return (self * f).rounded() / f
    }
}
