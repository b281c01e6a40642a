import Foundation

/// SimCLR's normalised-temperature cross-entropy.
extension Tensor {
    /// NT-Xent over `self` = z [2N, D] whose rows are L2-normalised embeddings, the first N
    /// of one view and the last N of the other: row i's positive is row p(i) = (i + N) mod 2N,
    /// every other row but itself a negative. With s = z zᵀ / T,
    /// loss = mean over i of −s_{i,p(i)} + log Σ_{k≠i} exp s_ik.
    ///
    /// Every rank of a data-parallel run calls this on the same gathered [2N, D] and gets the
    /// same bits, so the gradient of its own rows is the one-process gradient of those rows.
    public func ntXent(temperature: Float) -> Tensor {
        precondition(rank == 2 && shape[0] % 2 == 0 && shape[0] >= 2, "ntXent: z \(shape) is not [2N, D]")
        let (rows, d) = (shape[0], shape[1])
        let half = rows / 2
        // probs: [2N, 2N] softmax of s over k ≠ i (zero on the diagonal), kept for backward
        let probs = Tensor(uninitializedShape: [rows, rows])
        BLAS.sgemm(transA: false, transB: true, m: rows, n: rows, k: d, alpha: 1 / temperature,
                   a: data, lda: d, b: data, ldb: d, beta: 0, c: probs.data, ldc: rows)
        var total: Double = 0
        for i in 0..<rows {
            let s = probs.data + i * rows
            s[i] = -.infinity
            var mx = -Float.infinity
            for k in 0..<rows { mx = max(mx, s[k]) }
            let positive = s[(i + half) % rows]
            var sum: Float = 0
            for k in 0..<rows { let e = exp(s[k] - mx); s[k] = e; sum += e }
            total += Double(mx + log(sum) - positive)   // −s_ip + log Σ_k exp s_ik
            for k in 0..<rows { s[k] /= sum }
        }
        let loss = Tensor.scalar(Float(total / Double(rows)))
        Autograd.record(loss, inputs: [self], op: "nt_xent") { [self] g in
            // ds_ik = (P_ik − [k = p(i)]) · g / 2N; dz = (ds + dsᵀ) z / T
            let scale = g.data[0] / Float(rows)
            let ds = Tensor(uninitializedShape: [rows, rows])   // ds: [2N, 2N], symmetrised
            for i in 0..<rows {
                for k in 0..<rows {
                    let a = probs.data[i * rows + k] - (k == (i + half) % rows ? 1 : 0)
                    let b = probs.data[k * rows + i] - (i == (k + half) % rows ? 1 : 0)
                    ds.data[i * rows + k] = (a + b) * scale
                }
            }
            accumulateGrad { dz, overwrite in
                BLAS.sgemm(transA: false, transB: false, m: rows, n: d, k: rows, alpha: 1 / temperature,
                           a: ds.data, lda: rows, b: data, ldb: d, beta: overwrite ? 0 : 1, c: dz, ldc: d)
            }
        }
        return loss
    }
}
