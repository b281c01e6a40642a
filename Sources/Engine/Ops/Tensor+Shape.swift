/// Reshaping, transposition and concatenation with autograd.
extension Tensor {
    /// The same elements viewed with another shape (shares memory). One dimension may be -1.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var dims = newShape
        if let i = dims.firstIndex(of: -1) {
            let known = dims.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            dims[i] = known == 0 ? 0 : count / known
        }
        precondition(dims.reduce(1, *) == count, "reshape \(shape) to \(newShape)")
        let y = Tensor(shape: dims, sharing: storage, offset: offset)
        // The output's gradient is dropped once propagated: hand its buffer on as a view.
        Autograd.record(y, inputs: [self], op: "reshape") { [self] g in takeGrad(Tensor(shape: shape, sharing: g.storage, offset: g.offset)) }
        return y
    }

    /// Flattens every dimension after the first: [N, ...] → [N, rest].
    public func flattened() -> Tensor { reshaped([shape[0], -1]) }

    /// The transpose of a 2-d tensor (copies).
    public func transposed() -> Tensor {
        precondition(rank == 2, "transposed needs a 2-d tensor, got \(shape)")
        let (r, c) = (shape[0], shape[1])
        let y = Tensor(uninitializedShape: [c, r])
        Tensor.transpose(data, rows: r, cols: c, into: y.data)
        Autograd.record(y, inputs: [self], op: "transpose") { [self] g in
            let t = Tensor(uninitializedShape: [r, c])
            Tensor.transpose(g.data, rows: c, cols: r, into: t.data)
            addGrad(from: t)
        }
        return y
    }

    static func transpose(_ src: UnsafePointer<Float>, rows: Int, cols: Int, into dst: UnsafeMutablePointer<Float>) {
        for i in 0..<rows { for j in 0..<cols { dst[j * rows + i] = src[i * cols + j] } }
    }

    /// Concatenates tensors along `dim`; all other dimensions must agree.
    public static func concat(_ parts: [Tensor], dim: Int) -> Tensor {
        precondition(!parts.isEmpty, "concat of no tensors")
        let base = parts[0].shape
        let d = dim < 0 ? dim + base.count : dim
        for p in parts {
            precondition(p.rank == base.count && (0..<base.count).allSatisfy { $0 == d || p.shape[$0] == base[$0] },
                         "concat: \(p.shape) does not fit \(base) along dim \(d)")
        }
        let outer = base[..<d].reduce(1, *)
        let inner = base[(d + 1)...].reduce(1, *)
        var outShape = base
        outShape[d] = parts.map { $0.shape[d] }.reduce(0, +)
        let y = Tensor(uninitializedShape: outShape)
        let rowOut = outShape[d] * inner
        var col = 0
        for p in parts {
            let rowIn = p.shape[d] * inner
            for o in 0..<outer {
                (y.data + o * rowOut + col).update(from: p.data + o * rowIn, count: rowIn)
            }
            col += rowIn
        }
        Autograd.record(y, inputs: parts, op: "concat") { g in
            var col = 0
            for p in parts {
                let rowIn = p.shape[d] * inner
                if p.requiresGrad {
                    let c0 = col
                    p.accumulateGrad { dp, overwrite in
                        for o in 0..<outer {
                            let src = g.data + o * rowOut + c0
                            let dst = dp + o * rowIn
                            if overwrite { dst.update(from: src, count: rowIn) }
                            else { for i in 0..<rowIn { dst[i] += src[i] } }
                        }
                    }
                }
                col += rowIn
            }
        }
        return y
    }
}
