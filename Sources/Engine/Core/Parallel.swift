import Dispatch

/// Intra-op parallelism for the engine's own kernels (OpenBLAS has its own threads).
///
/// Data-parallel runs use one process per core and keep this at 1; a single process on
/// several cores raises it (`train.threads`), and convolutions then split their images
/// across threads.
public enum Parallel {
    nonisolated(unsafe) private static var configuredThreads = 1

    /// Threads the engine's kernels may use (≥ 1).
    public static var threads: Int {
        get { configuredThreads }
        set { configuredThreads = max(1, newValue) }
    }

    /// Splits 0..<count into at most `threads` contiguous chunks and runs `body(chunk, range)`
    /// for each, concurrently when there is more than one; returns when all are done.
    public static func chunks(_ count: Int, _ body: (Int, Range<Int>) -> Void) {
        let parts = min(threads, count)
        if parts <= 1 {
            if count > 0 { body(0, 0..<count) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let lo = count * part / parts, hi = count * (part + 1) / parts
            body(part, lo..<hi)
        }
    }
}

extension Parallel {
    /// Gives a process `threads` cores. Convolutional models run almost entirely in the
    /// engine's own kernels, which then get the threads while OpenBLAS keeps one (its idle
    /// workers spin and would steal the cores back); dense models are nearly all SGEMM, so
    /// OpenBLAS gets them.
    public static func configure(threads: Int, convolutional: Bool) {
        Parallel.threads = convolutional ? threads : 1
        BLAS.setThreads(convolutional ? 1 : threads)
    }
}
