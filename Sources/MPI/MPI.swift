// MPI — everything that crosses processes: `Communicator` (the only Swift code that calls
// CMPI; errors come back as Swift errors), the `GradientReducer` (buckets, overlap with
// backward, the step fingerprint, the non-finite flag), `CommunicatorSum` for SyncBatchNorm,
// `Module.replicate(over:)`, and the allreduce bandwidth bench.
//
// Must not know: configs, files, training loops or methods. Works unchanged without mpirun
// (rank 0 of 1).
