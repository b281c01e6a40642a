import Config
import Engine

/// The one process-wide setting a run makes before it builds anything: how many cores go to
/// the engine's kernels and how many to OpenBLAS (`Parallel.configure`). Training, the probe
/// and the bench all start here.
public enum ProcessSetup {
    /// `threads` cores for a process training `model`: convolutional models give them to the
    /// engine's kernels, the MLP (almost all SGEMM) to OpenBLAS.
    public static func configure(threads: Int, model: TrainConfig.ModelName) {
        Parallel.configure(threads: threads, convolutional: model != .mlp)
    }
}
