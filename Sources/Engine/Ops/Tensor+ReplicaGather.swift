/// Concatenates every replica's rows: what the MPI module's allgather provides; the engine
/// only calls it (as with `CrossReplicaSum`).
public protocol CrossReplicaGather: AnyObject {
    /// This replica's index among `replicas`.
    var replica: Int { get }
    /// Number of replicas.
    var replicas: Int { get }
    /// `receive` gets every replica's `send`, in replica order (every replica calls it, in
    /// the same order). A failure to communicate ends the process with a message.
    func gather(_ send: UnsafeBufferPointer<Float>, into receive: UnsafeMutableBufferPointer<Float>)
}

/// The global batch from every replica's share, with gradients flowing back to each share.
extension Tensor {
    /// Every replica's rows of this [blocks·B, …] tensor in global position order. The rows are
    /// `blocks` consecutive blocks of B (the two views of SimCLR's batch), and replica r's
    /// row i of a block is the block's global position i·R + r — the sharded sampler's
    /// layout — so the result [blocks·B·R, …] is the tensor one process holding the whole
    /// batch would have. Without `gather` (one process) the tensor itself.
    ///
    /// Backward hands this replica its own rows of the gradient, times R: every replica
    /// computes the same loss on the gathered rows, and the gradient reducer averages over the
    /// replicas, so the average is the one-process gradient (exactly, for R a power of two).
    public func gatheredAcrossReplicas(_ gather: (any CrossReplicaGather)?, blocks: Int = 1) -> Tensor {
        guard let gather, gather.replicas > 1 else { return self }
        precondition(rank >= 1 && blocks >= 1 && shape[0] % blocks == 0, "gatheredAcrossReplicas: \(shape) in \(blocks) blocks")
        let (r, replicas) = (gather.replica, gather.replicas)
        let b = shape[0] / blocks, row = count / max(shape[0], 1)
        let received = Tensor(uninitializedShape: [replicas] + shape)   // received: [R, blocks·B, …] in replica order
        gather.gather(UnsafeBufferPointer(start: data, count: count), into: UnsafeMutableBufferPointer(start: received.data, count: received.count))
        let y = Tensor(uninitializedShape: [shape[0] * replicas] + shape.dropFirst())   // y: [blocks·B·R, …] in position order
        /// Where replica q's local row j lands in the global order.
        func global(_ q: Int, _ j: Int) -> Int { (j / b) * b * replicas + (j % b) * replicas + q }
        for q in 0..<replicas {
            for j in 0..<shape[0] {
                (y.data + global(q, j) * row).update(from: received.data + (q * shape[0] + j) * row, count: row)
            }
        }
        Autograd.record(y, inputs: [self], op: "gather_replicas") { [self] g in
            let factor = Float(replicas)
            accumulateGrad { d, overwrite in
                for j in 0..<shape[0] {
                    let src = g.data + global(r, j) * row, dst = d + j * row
                    for e in 0..<row { dst[e] = (overwrite ? 0 : dst[e]) + src[e] * factor }
                }
            }
        }
        return y
    }
}
