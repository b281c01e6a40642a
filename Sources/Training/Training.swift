// Training — the loop and everything a run needs whatever it trains: `Trainer` (forward,
// backward, reduce, step, schedule, log, checkpoint), the one `TrainingStep`, the
// `TrainingObjective` / `TrainingMethod` seam, `EpochTotals`, `RunLength`, `TrainState` and
// `RunCheckpoint`, the `ResumePlan`, `TrainingJob` (what `concord train` runs), schedules,
// optimizer construction, the run directory, progress and metrics, stop signals and the
// injected test faults.
//
// Must not know: any method by name. What is trained is an `any TrainingObjective`, built
// by the factory the caller passes (Methods' registry).
