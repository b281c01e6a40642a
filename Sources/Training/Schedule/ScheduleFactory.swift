import Config
import Engine

/// Turns a config's `schedule:` section into iteration-based schedules.
public enum ScheduleFactory {
    /// The learning rate: linear warm-up (if any) followed by the configured decay, in iterations.
    public static func learningRate(_ config: TrainConfig, base: Double, iterationsPerEpoch: Int) -> Schedule {
        let s = config.schedule
        let total = config.train.epochs * iterationsPerEpoch
        let warmup = min(total, Int((s.warmupEpochs * Double(iterationsPerEpoch)).rounded()))
        var segments: [Schedule.Segment] = []
        if warmup > 0 {
            segments.append(s.warmupKind == .linear
                ? .linearWarmup(iterations: warmup, startFactor: s.warmupStartFactor)
                : .exponentialWarmup(iterations: warmup, startFactor: max(s.warmupStartFactor, 1e-3)))
        }
        let rest = max(total - warmup, 1)
        switch s.kind {
        case .cosine: segments.append(.cosine(iterations: rest, final: s.finalLR))
        case .multistep:
            segments.append(.multistep(milestones: s.milestones.map { $0 * iterationsPerEpoch - warmup },
                                       gamma: s.gamma, iterations: nil))
        case .constant: segments.append(.constant(iterations: nil))
        case .step: segments.append(.step(stepSize: s.stepEpochs * iterationsPerEpoch, gamma: s.gamma, iterations: nil))
        case .polynomial: segments.append(.polynomial(iterations: rest, power: s.power, final: s.finalLR))
        case .cosineRestarts:
            segments.append(.cosineRestarts(t0: s.restartEpochs * iterationsPerEpoch, tMult: s.restartMult, final: s.finalLR,
                                            iterations: nil))
        }
        return Schedule(base: base, segments: segments)
    }

    /// The weight decay over the run: constant, or cosine from `optimizer.weight_decay` to
    /// `schedule.final_weight_decay` (the optimizer's groups scale with it).
    public static func weightDecay(_ config: TrainConfig, iterationsPerEpoch: Int) -> Schedule {
        let total = max(config.train.epochs * iterationsPerEpoch, 1)
        switch config.schedule.weightDecayKind {
        case .constant: return Schedule(base: config.optimizer.weightDecay, segments: [.constant(iterations: nil)])
        case .cosine:
            return Schedule(base: config.optimizer.weightDecay,
                            segments: [.cosine(iterations: total, final: config.schedule.finalWeightDecay)])
        }
    }

    /// The momentum encoder's EMA momentum: constant at `base`, or (`cosineToOne`) rising
    /// along a half cosine from `base` to 1 over `iterations` (BYOL / MoCo v3 style).
    public static func emaMomentum(base: Double, cosineToOne: Bool, iterations: Int) -> Schedule {
        cosineToOne ? Schedule(base: base, segments: [.cosine(iterations: max(iterations, 1), final: 1)])
                    : Schedule(base: base, segments: [.constant(iterations: nil)])
    }
}
