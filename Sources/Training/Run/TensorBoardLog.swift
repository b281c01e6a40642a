import Engine
import Foundation
import Persistence

/// What a run shows in TensorBoard (rank 0, `events.out.tfevents.*` in the run directory),
/// every point at the global iteration as its step:
///
/// - every `run.log_every` iterations and at each epoch's end: `train/loss` (rank 0's mean
///   loss since the last point), `train/lr`, `train/images_per_s` (every rank's images over
///   the wall time);
/// - every epoch: each number of the `metrics.jsonl` record as `epoch/<key>`
///   (`epoch/train_loss`, `epoch/test_acc`, `epoch/knn_acc`, …).
///
/// A resumed run writes a new file that starts a session at its first iteration, so
/// TensorBoard drops what the interrupted run logged after the checkpoint it resumed from.
final class TensorBoardLog {
    let events: TensorBoardEventFile
    let every: Int
    let globalBatch: Int
    /// The loss sum and examples of the epoch so far when the last point was written.
    private var last: (epoch: Int, lossSum: Double, examples: Double, iteration: Int, seconds: Double)

    init(directory: String, startIteration: Int, startEpoch: Int, startTotals: EpochTotals, every: Int, globalBatch: Int) throws {
        events = try TensorBoardEventFile(directory: directory)
        // TensorBoard keeps an earlier file's points below the session's step: the resumed
        // run's first step is startIteration + 1, and the point at startIteration stays.
        if startIteration > 0 { try events.startSession(at: startIteration + 1) }
        self.every = max(every, 1)
        self.globalBatch = globalBatch
        last = (startEpoch, startTotals.lossSum, startTotals.examples, startIteration, MonotonicClock.seconds())
    }

    /// After `iteration` steps; writes the iteration scalars when it is a multiple of `every`
    /// or ends the epoch (so no step falls outside a point). `totals` are this rank's of
    /// `epoch` so far.
    func iterationDone(_ iteration: Int, epoch: Int, epochEnds: Bool, totals: EpochTotals, learningRate: Double) throws {
        guard iteration % every == 0 || epochEnds else { return }
        if epoch != last.epoch { (last.lossSum, last.examples) = (0, 0) }
        let now = MonotonicClock.seconds()
        var scalars: [(tag: String, value: Double)] = [("train/lr", learningRate)]
        if totals.examples > last.examples {
            scalars.append(("train/loss", (totals.lossSum - last.lossSum) / (totals.examples - last.examples)))
        }
        if now > last.seconds, iteration > last.iteration {
            scalars.append(("train/images_per_s", Double((iteration - last.iteration) * globalBatch) / (now - last.seconds)))
        }
        try events.add(scalars, step: iteration)
        last = (epoch, totals.lossSum, totals.examples, iteration, now)
    }

    /// The epoch's `metrics.jsonl` record, its numbers under `epoch/`.
    func epochDone(_ record: [String: MetricValue], iteration: Int) throws {
        let scalars: [(tag: String, value: Double)] = record.sorted { $0.key < $1.key }.compactMap { key, value in
            guard !["epoch", "iteration", "ranks"].contains(key) else { return nil }
            switch value {
            case let .int(v): return ("epoch/" + key, Double(v))
            case let .double(v): return ("epoch/" + key, v)
            case .string, .bool: return nil
            }
        }
        try events.add(scalars, step: iteration)
        // Throughput counts training from here, not the evaluation and checkpoint just done.
        (last.iteration, last.seconds) = (iteration, MonotonicClock.seconds())
    }
}
