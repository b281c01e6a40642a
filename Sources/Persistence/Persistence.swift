// Persistence — bytes on disk: the checkpoint file (header, JSON manifest, zstd frames with
// checksums; verification, diff, inspection, tensors in and out by name), the checkpoint
// store (keep the newest K, `latest`), safetensors, `AtomicFile` (the
// one way a file is replaced), zstd (the only caller of CZstd) and the bit-plane shuffle.
//
// Must not know: what a run's state means (Training's `TrainState` decides that), configs,
// MPI.
