/// Matrix products on SGEMM.
extension Tensor {
    /// a[M,K] · b[K,N] → [M,N].
    public func matmul(_ b: Tensor) -> Tensor {
        precondition(rank == 2 && b.rank == 2 && shape[1] == b.shape[0], "matmul: \(shape) · \(b.shape)")
        let (m, k, n) = (shape[0], shape[1], b.shape[1])
        let y = Tensor(uninitializedShape: [m, n])
        BLAS.sgemm(transA: false, transB: false, m: m, n: n, k: k, a: data, lda: k, b: b.data, ldb: n,
                   beta: 0, c: y.data, ldc: n)
        Autograd.record(y, inputs: [self, b]) { [self] g in
            if requiresGrad {   // dA[M,K] = dY[M,N] · Bᵀ
                accumulateGrad { d, overwrite in
                    BLAS.sgemm(transA: false, transB: true, m: m, n: k, k: n, a: g.data, lda: n,
                               b: b.data, ldb: n, beta: overwrite ? 0 : 1, c: d, ldc: k)
                }
            }
            if b.requiresGrad {   // dB[K,N] = Aᵀ · dY
                b.accumulateGrad { d, overwrite in
                    BLAS.sgemm(transA: true, transB: false, m: k, n: n, k: m, a: data, lda: k,
                               b: g.data, ldb: n, beta: overwrite ? 0 : 1, c: d, ldc: n)
                }
            }
        }
        return y
    }

    /// y = x Wᵀ + b with x [N,I], weight [O,I], bias [O] (PyTorch's `F.linear`).
    public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(rank == 2 && weight.rank == 2 && shape[1] == weight.shape[1],
                     "linear: input \(shape) with weight \(weight.shape)")
        let (nb, i, o) = (shape[0], shape[1], weight.shape[0])
        let y = Tensor(uninitializedShape: [nb, o])
        if let bias {
            precondition(bias.shape == [o], "linear: bias \(bias.shape) for \(o) outputs")
            for r in 0..<nb { (y.data + r * o).update(from: bias.data, count: o) }
        }
        BLAS.sgemm(transA: false, transB: true, m: nb, n: o, k: i, a: data, lda: i, b: weight.data, ldb: i,
                   beta: bias == nil ? 0 : 1, c: y.data, ldc: o)
        Autograd.record(y, inputs: bias.map { [self, weight, $0] } ?? [self, weight]) { [self] g in
            if requiresGrad {   // dX[N,I] = dY[N,O] · W[O,I]
                accumulateGrad { d, overwrite in
                    BLAS.sgemm(transA: false, transB: false, m: nb, n: i, k: o, a: g.data, lda: o,
                               b: weight.data, ldb: i, beta: overwrite ? 0 : 1, c: d, ldc: i)
                }
            }
            if weight.requiresGrad {   // dW[O,I] = dYᵀ · X
                weight.accumulateGrad { d, overwrite in
                    BLAS.sgemm(transA: true, transB: false, m: o, n: i, k: nb, a: g.data, lda: o,
                               b: data, ldb: i, beta: overwrite ? 0 : 1, c: d, ldc: i)
                }
            }
            if let bias, bias.requiresGrad {
                bias.accumulateGrad { d, overwrite in
                    if overwrite { d.update(repeating: 0, count: o) }
                    for r in 0..<nb { let row = g.data + r * o; for j in 0..<o { d[j] += row[j] } }
                }
            }
        }
        return y
    }
}
