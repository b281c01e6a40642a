import Engine
import Foundation

/// SyncBatchNorm's cross-replica sums over a communicator. A failure cannot be thrown
/// through the forward pass: it is reported and ends the job on every rank.
public final class CommunicatorSum: CrossReplicaSum {
    /// The ranks whose batches the statistics cover.
    public let communicator: Communicator

    /// Sums over every rank of `communicator`.
    public init(communicator: Communicator) { self.communicator = communicator }

    /// The number of ranks.
    public var replicas: Int { communicator.size }

    /// Replaces `values` with their sum over all ranks (an allreduce).
    public func sumInPlace(_ values: UnsafeMutableBufferPointer<Double>) {
        do {
            try communicator.allreduce(values, op: .sum)
        } catch {
            FileHandle.standardError.write(Data("concord: rank \(communicator.rank): SyncBatchNorm statistics: \(error)\n".utf8))
            communicator.abort(code: 1)
        }
    }
}

/// Gathers every rank's rows over a communicator: the engine's `CrossReplicaGather`.
public final class CommunicatorGather: CrossReplicaGather {
    /// The ranks whose rows are gathered.
    public let communicator: Communicator

    /// Gathers over `communicator`.
    public init(communicator: Communicator) { self.communicator = communicator }

    /// This process's rank.
    public var replica: Int { communicator.rank }
    /// The communicator's size.
    public var replicas: Int { communicator.size }

    /// Every rank's `send`, in rank order (an allgather).
    public func gather(_ send: UnsafeBufferPointer<Float>, into receive: UnsafeMutableBufferPointer<Float>) {
        do {
            try communicator.allgather(send, into: receive)
        } catch {
            FileHandle.standardError.write(Data("concord: rank \(communicator.rank): gathering the global batch: \(error)\n".utf8))
            communicator.abort(code: 1)
        }
    }
}
