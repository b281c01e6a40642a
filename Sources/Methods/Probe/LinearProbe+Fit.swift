import Datasets
import Engine
import MPI
import Training

/// Training and scoring the probe's classifier.
extension LinearProbe {
    /// A linear classifier trained on `set` (every rank its share) at peak rate `lr`, with
    /// `TrainingStep`: SGD + momentum, one warm-up epoch then cosine to 0.
    func fit(_ set: (features: Tensor, labels: [Int]), classes: Int, lr: Double, log: (String) -> Void) throws -> Linear {
        let width = set.features.shape[1]
        var rng = RandomGenerator(seed: UInt64(config.train.seed), purpose: .initialization, index: 1)
        let classifier = Linear(width, classes, rng: &rng)
        classifier.replicate(over: world)
        let objective = LinearClassifierObjective(classifier)
        let p = config.probe
        let optimizer = SGD(groups: [ParameterGroup(name: "linear", parameters: objective.parameters, weightDecay: Float(p.weightDecay))],
                            lr: Float(lr), momentum: Float(p.momentum))
        let smallestShard = try world.allgather([Int64(set.labels.count)]).map { Int($0[0]) }.min() ?? 0
        let perEpoch = smallestShard / p.batchSize
        guard perEpoch >= 1 else {
            throw TrainingError("probe.batch_size \(p.batchSize) is larger than the \(smallestShard) training images of each of \(world.size) rank(s); lower it")
        }
        let schedules = OptimizerSchedules(learningRate: Schedule(base: lr, segments: [
            .linearWarmup(iterations: perEpoch, startFactor: 0.1), .cosine(iterations: max(perEpoch * (p.epochs - 1), 1), final: 0),
        ]))
        let step = try TrainingStep(objective: objective, optimizer: optimizer, schedules: schedules, world: world,
                                    maxNonFiniteSteps: config.distributed.maxNonfiniteSteps)
        let x = Tensor(uninitializedShape: [p.batchSize, width])   // x: [B, D]
        var iteration = 0
        var totals = EpochTotals()
        for epoch in 0..<p.epochs {
            var shuffle = RandomGenerator(seed: UInt64(config.train.seed), purpose: .samplerEpoch,
                                          index: UInt64(epoch * world.size + world.rank))
            let order = shuffle.permutation(set.labels.count)
            for position in 0..<perEpoch {
                let rows = Array(order[(position * p.batchSize)..<((position + 1) * p.batchSize)])
                for (j, row) in rows.enumerated() { (x.data + j * width).update(from: set.features.data + row * width, count: width) }
                let batch = Batch(images: x, labels: rows.map { set.labels[$0] }, indices: rows, position: position)
                _ = try step.run(iteration: iteration, totals: &totals, next: { batch })
                iteration += 1
            }
            if (epoch + 1) % max(p.epochs / 5, 1) == 0 || epoch == p.epochs - 1 {
                log("lr \(lr): epoch \(epoch + 1)/\(p.epochs)")
            }
        }
        return classifier
    }

    /// Top-1 of `classifier` on the rows of every rank's share.
    func accuracy(_ classifier: Linear, _ set: (features: Tensor, labels: [Int])) throws -> Double {
        var counts = [0.0, Double(set.labels.count)]
        Autograd.noGrad {
            let chunk = 1024
            var first = 0
            while first < set.labels.count {
                let rows = min(chunk, set.labels.count - first)
                let width = set.features.shape[1]
                let x = Tensor(shape: [rows, width], values: Array(UnsafeBufferPointer(start: set.features.data + first * width, count: rows * width)))
                counts[0] += Double(Classification.correctCount(classifier(x), Array(set.labels[first..<(first + rows)])))
                first += rows
            }
        }
        try counts.withUnsafeMutableBufferPointer { try world.allreduce($0, op: .sum) }
        return counts[0] / max(counts[1], 1)
    }
}
