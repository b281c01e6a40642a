import EngineKernels
import Foundation

/// MoCo v3's contrastive loss.
extension Tensor {
    /// CE(q · keysᵀ / T, targets) · 2T for the rows of q = `self` [B, d] against `keys` [M, d]
    /// (both L2-normalised; the keys are constants — a momentum encoder's, gathered from every
    /// rank), row i's positive being key `targets[i]`: moco-v3's `contrastive_loss`. The mean
    /// is over this process's B rows (the gradient reducer averages over ranks).
    ///
    /// The logits are formed on the tiled kernels, so row i's bits do not depend on the other
    /// rows of the call: N ranks × B and one process × N·B give the same gradients.
    /// Returns the loss and the logits [B, M] (detached).
    public func contrastiveLoss(keys: Tensor, targets: [Int], temperature t: Float) -> (loss: Tensor, logits: Tensor) {
        precondition(rank == 2 && keys.rank == 2 && shape[1] == keys.shape[1] && targets.count == shape[0] && t > 0,
                     "contrastiveLoss: q \(shape), keys \(keys.shape), \(targets.count) targets, T \(t)")
        let (b, m, d) = (shape[0], keys.shape[0], shape[1])
        precondition(targets.allSatisfy { (0..<m).contains($0) }, "contrastiveLoss: a target outside the \(m) keys")
        let kt = Tensor(uninitializedShape: [d, m])   // kt: keysᵀ
        for j in 0..<m { for p in 0..<d { kt.data[p * m + j] = keys.data[j * d + p] } }
        let logits = Tensor(uninitializedShape: [b, m])   // logits: [B, M] = q · keysᵀ / T
        TokenGemm.run(TileGemmProblem(m: b, n: m, k: d, a: data, sa: d, st: 1, b: kt.data, ldb: m, c: logits.data, ldc: m))
        RowKernels.scale(logits.data, by: 1 / t, count: b * m)
        let probs = Tensor(uninitializedShape: [b, m])   // probs: softmax of each row
        RowKernels.softmaxRows(logits.data, probs.data, rows: b, length: m)
        var total = 0.0   // Σ_i logsumexp(row i) − row i's target logit, in double
        for i in 0..<b {
            let row = logits.data + i * m
            var top = -Double.infinity
            for j in 0..<m { top = max(top, Double(row[j])) }
            var sum = 0.0
            for j in 0..<m { sum += Foundation.exp(Double(row[j]) - top) }
            total += top + Foundation.log(sum) - Double(row[targets[i]])
        }
        let loss = Tensor.scalar(Float(total / Double(b) * Double(2 * t)))
        Autograd.record(loss, inputs: [self], op: "contrastive", flops: Self.gemmFlops(m: b, n: m, k: d)) { [self] g in
            // dlogits = (probs − onehot) · 2T·g / B; dq = dlogits · keys / T = (probs − onehot) · keys · 2g / B
            let dlogits = Tensor(uninitializedShape: [b, m])
            let scale = 2 * g.data[0] / Float(b)
            for i in 0..<b {
                for j in 0..<m { dlogits.data[i * m + j] = probs.data[i * m + j] * scale }
                dlogits.data[i * m + targets[i]] -= scale
            }
            accumulateGrad { dq, overwrite in
                TokenGemm.run(TileGemmProblem(m: b, n: d, k: m, a: dlogits.data, sa: m, st: 1, b: keys.data, ldb: d, c: dq, ldc: d,
                                              start: overwrite ? .zero : .accumulate))
            }
        }
        return (loss, logits.detached())
    }
}
