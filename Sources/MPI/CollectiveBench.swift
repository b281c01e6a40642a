import CMPI
import Foundation

/// Allreduce bandwidth through the `Communicator` wrapper and through a plain
/// `MPI_Allreduce` on the same buffer, alternated in one run so both see the same machine.
public enum CollectiveBench {
    /// One message size. Bandwidths are bus bandwidths (NCCL's convention: algorithm
    /// bandwidth × 2(n−1)/n), in GB/s, of the slowest rank's best round.
    public struct Sample: Sendable {
        /// Message size.
        public let bytes: Int
        /// Allreduces per timed round.
        public let repetitions: Int
        /// Through `Communicator.allreduce`.
        public let wrapperBusGBps: Double
        /// Through a plain `MPI_Allreduce` on the same buffer.
        public let rawBusGBps: Double
    }

    /// Sizes from 4 KiB to 64 MiB, doubling.
    public static let defaultSizes: [Int] = (12...26).map { 1 << $0 }

    /// Measures every size (collective: all ranks call it with the same sizes).
    public static func allreduce(_ world: Communicator, sizes: [Int] = defaultSizes) throws -> [Sample] {
        var samples: [Sample] = []
        for bytes in sizes {
            let count = bytes / 4
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
            defer { buffer.deallocate() }
            buffer.initialize(repeating: 0)
            // About 64 MiB moved per measurement, at least 5 repetitions.
            let reps = max(5, (64 << 20) / bytes)
            var wrapper = [Double](), raw = [Double]()
            for round in 0..<4 {
                try world.barrier()
                let t0 = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<reps { try world.allreduce(buffer, op: .sum) }
                let t1 = DispatchTime.now().uptimeNanoseconds
                try world.barrier()
                let t2 = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<reps { try rawAllreduce(world, buffer) }
                let t3 = DispatchTime.now().uptimeNanoseconds
                if round > 0 {   // round 0 warms up connections and caches
                    wrapper.append(Double(t1 - t0) / 1e9 / Double(reps))
                    raw.append(Double(t3 - t2) / 1e9 / Double(reps))
                }
            }
            // The slowest rank decides; the best round is the least disturbed one.
            var times = [wrapper.min() ?? 0, raw.min() ?? 0]
            try times.withUnsafeMutableBufferPointer { try world.allreduce($0, op: .max) }
            let n = Double(world.size), factor = world.size > 1 ? 2 * (n - 1) / n : 1
            samples.append(Sample(bytes: bytes, repetitions: reps,
                                  wrapperBusGBps: Double(bytes) / times[0] * factor / 1e9,
                                  rawBusGBps: Double(bytes) / times[1] * factor / 1e9))
        }
        return samples
    }

    private static func rawAllreduce(_ world: Communicator, _ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard let handle = world.handle else { return }
        try MPIError.check(MPI_Allreduce(concord_mpi_in_place(), buffer.baseAddress, Int32(buffer.count), concord_mpi_float(),
                                         concord_mpi_sum(), handle), "MPI_Allreduce")
    }
}
