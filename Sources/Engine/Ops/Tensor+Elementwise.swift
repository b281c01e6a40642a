/// Element-wise arithmetic and reductions with autograd.
extension Tensor {
    /// Element-wise sum of two tensors of the same shape (the residual add).
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "add: \(a.shape) vs \(b.shape)")
        let y = Tensor(uninitializedShape: a.shape)
        let n = a.count
        let pa = a.data, pb = b.data, py = y.data
        for i in 0..<n { py[i] = pa[i] + pb[i] }
        Autograd.record(y, inputs: [a, b], op: "add") { g in
            // The output's gradient is dropped once propagated: a takes its buffer, b adds a copy.
            if b.requiresGrad { b.addGrad(from: g) }
            if a.requiresGrad { a.takeGrad(g) }
        }
        return y
    }

    /// relu(a + b): the residual join, fused so the sum is never stored.
    public static func addReLU(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "addReLU: \(a.shape) vs \(b.shape)")
        let y = Tensor(uninitializedShape: a.shape)
        let n = a.count
        let pa = a.data, pb = b.data, py = y.data
        for i in 0..<n { let v = pa[i] + pb[i]; py[i] = v > 0 ? v : 0 }
        Autograd.record(y, inputs: [a, b], op: "add_relu") { g in
            for t in [a, b] where t.requiresGrad {
                t.accumulateGrad { d, overwrite in
                    VectorMath.reluBackward(output: py, grad: g.data, into: d, n, accumulate: !overwrite)
                }
            }
        }
        return y
    }

    /// Multiplies every element by a constant.
    public static func * (a: Tensor, s: Float) -> Tensor {
        let y = Tensor(uninitializedShape: a.shape)
        let pa = a.data, py = y.data
        for i in 0..<a.count { py[i] = pa[i] * s }
        Autograd.record(y, inputs: [a], op: "scale") { g in
            let pg = g.data
            a.accumulateGrad { d, overwrite in
                if overwrite { for i in 0..<a.count { d[i] = pg[i] * s } }
                else { for i in 0..<a.count { d[i] += pg[i] * s } }
            }
        }
        return y
    }

    /// Element-wise product of two tensors of the same shape.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "mul: \(a.shape) vs \(b.shape)")
        let y = Tensor(uninitializedShape: a.shape)
        let pa = a.data, pb = b.data, py = y.data
        for i in 0..<a.count { py[i] = pa[i] * pb[i] }
        Autograd.record(y, inputs: [a, b], op: "multiply") { g in
            let pg = g.data
            for (t, other) in [(a, pb), (b, pa)] where t.requiresGrad {
                t.accumulateGrad { d, overwrite in
                    if overwrite { for i in 0..<t.count { d[i] = pg[i] * other[i] } }
                    else { for i in 0..<t.count { d[i] += pg[i] * other[i] } }
                }
            }
        }
        return y
    }

    /// Sum of all elements, as a scalar.
    public func sum() -> Tensor {
        var s: Float = 0
        let p = data
        for i in 0..<count { s += p[i] }
        let y = Tensor.scalar(s)
        Autograd.record(y, inputs: [self], op: "sum") { [self] g in
            let gv = g.data[0]
            accumulateGrad { d, overwrite in
                if overwrite { d.update(repeating: gv, count: count) }
                else { for i in 0..<count { d[i] += gv } }
            }
        }
        return y
    }

    /// Mean of all elements, as a scalar.
    public func mean() -> Tensor { sum() * (1 / Float(max(count, 1))) }

    /// Adds `g` (same element count) into this tensor's gradient.
    @usableFromInline
    func addGrad(from g: Tensor) {
        let pg = g.data
        accumulateGrad { d, overwrite in
            if overwrite { d.update(from: pg, count: count) }
            else { for i in 0..<count { d[i] += pg[i] } }
        }
    }

    /// Adds `g` into this tensor's gradient; when there is none yet, `g` itself becomes it
    /// (no copy). For a backward pass handing on the gradient it owns: it must not change `g`
    /// afterwards.
    func takeGrad(_ g: Tensor) {
        precondition(g.shape == shape, "gradient \(g.shape) for tensor \(shape)")
        if grad == nil { grad = g } else { addGrad(from: g) }
    }
}
