import MPI

/// What an epoch adds up on one rank: the loss over its examples, how many it got right, how
/// many there were, and the steps skipped on every rank for non-finite gradients.
///
/// A checkpoint saves every rank's totals of the epoch in progress, as the four numbers
/// `[lossSum, correct, examples, skippedSteps]` (the format of `TrainState.epochSums`).
public struct EpochTotals: Codable, Equatable, Sendable {
    /// Σ loss · examples, per micro-batch.
    public var lossSum = 0.0
    /// Examples the model got right (classification) or ranked first (contrastive).
    public var correct = 0.0
    /// Examples seen.
    public var examples = 0.0
    /// Steps skipped on every rank for non-finite gradients (each rank counts each one).
    public var skippedSteps = 0.0
    /// Examples this process trained on since it (re)started the epoch, for throughput;
    /// not saved, so a resumed epoch's images/s counts only what it ran.
    public var freshExamples = 0.0

    public init() {}

    /// Adds one forward pass of `examples` examples.
    public mutating func add(loss: Float, correct: Int, examples: Int) {
        lossSum += Double(loss) * Double(examples)
        self.correct += Double(correct)
        self.examples += Double(examples)
        freshExamples += Double(examples)
    }

    /// Mean loss per example (0 before the first).
    public var meanLoss: Double { lossSum / max(examples, 1) }
    /// Share of examples right (0 before the first).
    public var accuracy: Double { correct / max(examples, 1) }

    /// Every rank's totals added up (skipped steps stay as they are: every rank counted them).
    public func summed(over world: Communicator) throws -> EpochTotals {
        var values = [lossSum, correct, examples, freshExamples]
        try values.withUnsafeMutableBufferPointer { try world.allreduce($0, op: .sum) }
        var out = self
        (out.lossSum, out.correct, out.examples, out.freshExamples) = (values[0], values[1], values[2], values[3])
        return out
    }

    /// The totals of `ranks` (a checkpoint's, saved on another number of ranks) as one rank's.
    public static func folded(_ ranks: [EpochTotals]) -> EpochTotals {
        var out = EpochTotals()
        for r in ranks { out.lossSum += r.lossSum; out.correct += r.correct; out.examples += r.examples }
        out.skippedSteps = ranks.first?.skippedSteps ?? 0
        return out
    }

    /// The saved form: `[lossSum, correct, examples, skippedSteps]`, exactly (bit patterns).
    var words: [Int64] { [lossSum, correct, examples, skippedSteps].map { Int64(bitPattern: $0.bitPattern) } }

    init(words: [Int64]) {
        let v = words.map { Double(bitPattern: UInt64(bitPattern: $0)) }
        (lossSum, correct, examples, skippedSteps) = (v[0], v[1], v[2], v[3])
    }

    public init(from decoder: Decoder) throws {
        var c = try decoder.unkeyedContainer()
        lossSum = try c.decode(Double.self)
        correct = try c.decode(Double.self)
        examples = try c.decode(Double.self)
        skippedSteps = try c.decode(Double.self)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.unkeyedContainer()
        for v in [lossSum, correct, examples, skippedSteps] { try c.encode(v) }
    }
}
