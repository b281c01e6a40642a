/// Matrix products on SGEMM.
extension Tensor {
    /// Linear layers with at most this many weights (O·I) run as per-row loops and sum their
    /// weight and bias gradients over the batch in double, per batch chunk
    /// (`Tensor.accumulatePreciseGrad`, `BatchReduction`); larger ones use SGEMM.
    public static let preciseLinearLimit = 16_384

    /// a[M,K] · b[K,N] → [M,N].
    public func matmul(_ b: Tensor) -> Tensor {
        precondition(rank == 2 && b.rank == 2 && shape[1] == b.shape[0], "matmul: \(shape) · \(b.shape)")
        let (m, k, n) = (shape[0], shape[1], b.shape[1])
        let y = Tensor(uninitializedShape: [m, n])
        BLAS.sgemm(transA: false, transB: false, m: m, n: n, k: k, a: data, lda: k, b: b.data, ldb: n,
                   beta: 0, c: y.data, ldc: n)
        Autograd.record(y, inputs: [self, b], op: "matmul", flops: Self.gemmFlops(m: m, n: n, k: k)) { [self] g in
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

    /// y = x Wᵀ + b with x [N,I], weight [O,I], bias [O] (PyTorch's `F.linear`); `reduction`
    /// chunks a small layer's weight-gradient sums over the batch, whose images are
    /// `rowsPerImage` consecutive rows each (tokens: a sequence's rows share its chunk).
    public func linear(weight: Tensor, bias: Tensor?, reduction: BatchReduction = .singleProcess, rowsPerImage: Int = 1) -> Tensor {
        precondition(rank == 2 && weight.rank == 2 && shape[1] == weight.shape[1],
                     "linear: input \(shape) with weight \(weight.shape)")
        let (nb, i, o) = (shape[0], shape[1], weight.shape[0])
        precondition(rowsPerImage >= 1 && nb % rowsPerImage == 0, "linear: \(nb) rows are not images of \(rowsPerImage) rows")
        let y = Tensor(uninitializedShape: [nb, o])
        if let bias { precondition(bias.shape == [o], "linear: bias \(bias.shape) for \(o) outputs") }
        // Token rows (several per image) always take the tiled kernels: attention blocks are all GEMM.
        let precise = rowsPerImage == 1 && o * i <= Self.preciseLinearLimit
        if let bias, rowsPerImage == 1 {
            for r in 0..<nb { (y.data + r * o).update(from: bias.data, count: o) }
        }
        if precise {
            // Row by row, in double, in a fixed order: a row's outputs never depend on the batch
            // size, and the logits are rounded once.
            for r in 0..<nb {
                let xRow = data + r * i, yRow = y.data + r * o
                for oc in 0..<o {
                    let dot = VectorMath.dotDouble(xRow, weight.data + oc * i, i)
                    yRow[oc] = Float((bias == nil ? 0 : Double(yRow[oc])) + dot)
                }
            }
        } else if rowsPerImage > 1 {
            // Token rows: one product over the batch whose row bits do not depend on the call.
            TokenGemm.linear(rows: nb, x: data, weight: weight, bias: bias?.data, y: y.data)
        } else {
            BLAS.sgemm(transA: false, transB: true, m: nb, n: o, k: i, a: data, lda: i, b: weight.data, ldb: i,
                       beta: bias == nil ? 0 : 1, c: y.data, ldc: o)
        }
        Autograd.record(y, inputs: bias.map { [self, weight, $0] } ?? [self, weight], op: "linear", flops: Self.gemmFlops(m: nb, n: o, k: i)) { [self] g in
            if precise {
                // Small layers (classifier and projection heads): per-row loops and per-sample
                // sums in double, per batch chunk (`BatchReduction`), so neither the input
                // gradient nor the weight gradient depends on how the batch is split.
                if requiresGrad {   // dX[N,I] = dY[N,O] · W[O,I], row by row
                    accumulateGrad { d, overwrite in
                        for r in 0..<nb {
                            let gRow = g.data + r * o, dRow = d + r * i
                            if overwrite { dRow.update(repeating: 0, count: i) }
                            for oc in 0..<o {
                                let gv = gRow[oc], wRow = weight.data + oc * i
                                for j in 0..<i { dRow[j] += gv * wRow[j] }
                            }
                        }
                    }
                }
                let withBias = bias?.requiresGrad ?? false
                if weight.requiresGrad || withBias {
                    let size = o * i + o   // dW [O, I] then db [O]
                    let sums = reduction.sum(images: nb / rowsPerImage, size: size) { image, chunk in
                        for r in (image * rowsPerImage)..<((image + 1) * rowsPerImage) {
                            let gRow = g.data + r * o, xRow = data + r * i
                            for oc in 0..<o {
                                let gv = Double(gRow[oc]), dRow = chunk + oc * i
                                for j in 0..<i { dRow[j] += gv * Double(xRow[j]) }
                                chunk[o * i + oc] += gv
                            }
                        }
                    }
                    sums.withUnsafeBufferPointer { all in
                        if weight.requiresGrad { weight.accumulatePreciseGrad(UnsafeBufferPointer(rebasing: all[0..<(o * i)])) }
                        if withBias, let bias { bias.accumulatePreciseGrad(UnsafeBufferPointer(rebasing: all[(o * i)...])) }
                    }
                }
                return
            }
            if requiresGrad {   // dX[N,I] = dY[N,O] · W[O,I]
                accumulateGrad { d, overwrite in
                    if rowsPerImage > 1 {
                        TokenGemm.inputGradient(rows: nb, g: g.data, weight: weight, dx: d, accumulate: !overwrite)
                    } else {
                        BLAS.sgemm(transA: false, transB: false, m: nb, n: i, k: o, a: g.data, lda: o,
                                   b: weight.data, ldb: i, beta: overwrite ? 0 : 1, c: d, ldc: i)
                    }
                }
            }
            if rowsPerImage > 1 {
                Tensor.accumulateTokenWeightGradient(gradOut: g, input: self, weight: weight, bias: bias,
                                                     rowsPerImage: rowsPerImage, reduction: reduction)
                return
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

    /// Multiply-adds ×2 of an [m, k]·[k, n] product forward, and of its two gradient products.
    static func gemmFlops(m: Int, n: Int, k: Int) -> (forward: Double, backward: Double) {
        let f = 2 * Double(m) * Double(n) * Double(k)
        return (f, 2 * f)
    }

    /// Adds a token-row linear layer's dW and db (when they require gradients): per image
    /// chunk, combined in double (`BatchReduction`, `chunkedWeightGradient`).
    static func accumulateTokenWeightGradient(gradOut g: Tensor, input x: Tensor, weight: Tensor, bias: Tensor?,
                                              rowsPerImage: Int, reduction: BatchReduction) {
        let withBias = bias?.requiresGrad ?? false
        guard weight.requiresGrad || withBias else { return }
        let weights = weight.count
        let sums = chunkedWeightGradient(gradOut: g, input: x, rowsPerImage: rowsPerImage, reduction: reduction)
        sums.withUnsafeBufferPointer { all in
            if weight.requiresGrad { weight.accumulatePreciseGrad(UnsafeBufferPointer(rebasing: all[0..<weights])) }
            if withBias, let bias { bias.accumulatePreciseGrad(UnsafeBufferPointer(rebasing: all[weights...])) }
        }
    }

    /// dW [O, I] then db [O] of a linear layer on token rows, as doubles: each image chunk's
    /// rows give one product (`TokenGemm.weightGradient`), then the chunks are combined by the
    /// fixed tree — the same bits however the batch is split across ranks.
    static func chunkedWeightGradient(gradOut g: Tensor, input x: Tensor, rowsPerImage: Int, reduction: BatchReduction) -> [Double] {
        let (i, o) = (x.shape[1], g.shape[1])
        let images = x.shape[0] / rowsPerImage
        let chunks = reduction.chunks(images: images)
        let size = o * i + o
        let chunkSum = Tensor(uninitializedShape: [size])   // dW [O, I] then db [O] of one chunk
        let product = chunkSum.data
        return BufferPool.shared.withDoubles(chunks * size) { all in   // all: [chunks, O·I + O]
            for j in 0..<chunks {
                TokenGemm.weightGradient(g: g.data, outputs: o, x: x.data, inputs: i, images: Array(reduction.images(inChunk: j, of: images)),
                                         rowsPerImage: rowsPerImage, dw: product, db: product + o * i)
                let chunk = all + j * size
                for e in 0..<size { chunk[e] = Double(product[e]) }
            }
            BatchReduction.combine(all, chunks: chunks, size: size)
            return Array(UnsafeBufferPointer(start: all, count: size))
        }
    }
}
