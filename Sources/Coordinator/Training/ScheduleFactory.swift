import Engine

/// Turns a config's `schedule:` section into iteration-based schedules.
public enum ScheduleFactory {
    /// The learning rate: linear warm-up (if any) followed by the configured decay, in iterations.
    public static func learningRate(_ config: TrainConfig, base: Double, iterationsPerEpoch: Int) -> Schedule {
        let s = config.schedule
        let total = config.train.epochs * iterationsPerEpoch
        let warmup = min(total, Int((s.warmupEpochs * Double(iterationsPerEpoch)).rounded()))
        var segments: [Schedule.Segment] = []
        if warmup > 0 { segments.append(.linearWarmup(iterations: warmup, startFactor: s.warmupStartFactor)) }
        switch s.kind {
        case .cosine: segments.append(.cosine(iterations: max(total - warmup, 1), final: s.finalLR))
        case .multistep:
            segments.append(.multistep(milestones: s.milestones.map { $0 * iterationsPerEpoch - warmup },
                                       gamma: s.gamma, iterations: nil))
        case .constant: segments.append(.constant(iterations: nil))
        }
        return Schedule(base: base, segments: segments)
    }
}
