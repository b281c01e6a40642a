import Engine
import Foundation

/// What a run tells its user: the opening log line, and each epoch's `metrics.jsonl` record
/// and summary line.
extension Trainer {
    func logStart() throws {
        try run?.appendLog(data.summary(format: config.data.format.rawValue))
        for note in data.notes { try run?.appendLog(note) }
        let coreType = BLASCoreChoice.origin()
        try run?.appendLog("\(objective.summary); \(world.size) rank(s) × "
                           + "\(config.train.batchSize) images; \(length.iterationsPerEpoch) iterations/epoch; \(step.reducer.bucketSizes.count) gradient bucket(s); "
                           + "\(config.train.threads) thread(s) per rank; \(coreType) → OpenBLAS \(BLAS.coreName) kernels; "
                           + "convolutions \(ShiftedGemm.kernels.rawValue); token GEMMs \(TokenGemm.kernelDescription)"
                           + (config.distributed.syncBatchNorm && world.isDistributed ? "; SyncBatchNorm" : ""))
    }

    /// Appends the epoch's record to `metrics.jsonl` (and to the history a checkpoint keeps),
    /// and its summary to the log and the progress display.
    func record(_ m: EpochMetrics) throws {
        guard let run else { return }
        var fields: [String: MetricValue] = [
            "epoch": .int(m.epoch), "iteration": .int(iteration), "train_loss": .double(m.totals.meanLoss),
            "lr": .double(m.learningRate), "epoch_s": .double(m.seconds),
            "images_per_s": .double(m.imagesPerSecond), "peak_rss_mib": .double(ProcessMemory.peakRSSMiB()),
            "ranks": .int(world.size), "skipped_steps": .int(Int(m.totals.skippedSteps)),
        ]
        if let accuracy = objective.accuracyName { fields["train_" + accuracy] = .double(m.totals.accuracy) }
        for (name, value) in objective.scheduleValues(at: max(iteration - 1, 0)) + m.evaluation { fields[name] = .double(value) }
        if let seconds = m.evaluationSeconds { fields["eval_s"] = .double(seconds) }
        let json = MetricValue.jsonObject(fields)
        metricsLines.append(json)
        try run.appendMetricsLine(json)
        try tensorBoard?.epochDone(fields, iteration: iteration)
        let evaluation = m.evaluation.map { name, value in
            ", \(name) " + (name.hasSuffix("_acc") ? String(format: "%.2f%%", value * 100) : String(format: "%.4f", value))
        }.joined()
        let line = String(format: "epoch %d/%d: train loss %.4f", m.epoch, config.train.epochs, m.totals.meanLoss)
            + (objective.accuracyName.map { " " + $0 + String(format: " %.2f%%", m.totals.accuracy * 100) } ?? "") + evaluation
            + String(format: " (%.1f s, %.0f img/s)", m.seconds, m.imagesPerSecond)
        progress.finishEpoch(summary: line)
        try run.appendLog(line)
    }
}
