import EngineKernels
import Foundation

/// Softmax over one dimension (rows of the last one on `RowKernels`).
extension Tensor {
    /// exp(x) / Σ_dim exp(x), computed stably (the maximum is subtracted first).
    public func softmax(dim: Int = -1) -> Tensor {
        let (outer, size, inner) = split(at: dim)
        let y = Tensor(uninitializedShape: shape)
        if inner == 1 {
            RowKernels.softmaxRows(data, y.data, rows: outer, length: size)
        } else {
            // A strided dimension: e^(log-softmax), whose loop already walks the fibres.
            let logs = Autograd.noGrad { logSoftmax(dim: dim) }
            for k in 0..<count { y.data[k] = exp(logs.data[k]) }
        }
        Autograd.record(y, inputs: [self], op: "softmax") { [self] g in
            // dx = y ⊙ (dy − Σ_dim dy ⊙ y)
            accumulateGrad { dx, overwrite in
                if inner == 1 {
                    RowKernels.softmaxRowsBackward(output: y.data, grad: g.data, into: dx, rows: outer, length: size, accumulate: !overwrite)
                    return
                }
                for o in 0..<outer {
                    for j in 0..<inner {
                        let base = o * size * inner + j
                        var dot: Float = 0
                        for i in 0..<size { dot += g.data[base + i * inner] * y.data[base + i * inner] }
                        for i in 0..<size {
                            let k = base + i * inner
                            let v = y.data[k] * (g.data[k] - dot)
                            dx[k] = overwrite ? v : dx[k] + v
                        }
                    }
                }
            }
        }
        return y
    }
}
