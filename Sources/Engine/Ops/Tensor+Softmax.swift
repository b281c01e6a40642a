import Foundation

/// Softmax over one dimension, and the row kernels attention shares with it.
extension Tensor {
    /// exp(x) / Σ_dim exp(x), computed stably (the maximum is subtracted first).
    public func softmax(dim: Int = -1) -> Tensor {
        let (outer, size, inner) = split(at: dim)
        let y = Tensor(uninitializedShape: shape)
        if inner == 1 {
            Softmax.rows(data, y.data, rows: outer, length: size)
        } else {
            for o in 0..<outer {
                for j in 0..<inner {
                    let base = o * size * inner + j
                    var mx = -Float.infinity
                    for i in 0..<size { mx = max(mx, data[base + i * inner]) }
                    var s: Float = 0
                    for i in 0..<size { let e = exp(data[base + i * inner] - mx); y.data[base + i * inner] = e; s += e }
                    let r = 1 / s
                    for i in 0..<size { y.data[base + i * inner] *= r }
                }
            }
        }
        Autograd.record(y, inputs: [self]) { [self] g in
            // dx = y ⊙ (dy − Σ_dim dy ⊙ y)
            accumulateGrad { dx, overwrite in
                if inner == 1 {
                    Softmax.rowsBackward(output: y.data, grad: g.data, into: dx, rows: outer, length: size, accumulate: !overwrite)
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

/// Softmax of contiguous rows (the last dimension), forward and backward.
enum Softmax {
    /// y[r, :] = softmax(x[r, :]) for `rows` rows of `length`; x and y may be the same buffer.
    static func rows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, length n: Int) {
        for r in 0..<rows {
            let xr = x + r * n, yr = y + r * n
            var mx = -Float.infinity
            for i in 0..<n { mx = max(mx, xr[i]) }
            var sums = SIMD8<Float>()
            VectorMath.forEachLane(n) { i, count in
                let e = VectorMath.exp(VectorMath.load(xr + i, count) - mx)
                var kept = SIMD8<Float>()
                for k in 0..<count { kept[k] = e[k] }   // lanes past the row add nothing
                sums += kept
                VectorMath.store(e, yr + i, count)
            }
            let inv = 1 / sums.sum()
            for i in 0..<n { yr[i] *= inv }
        }
    }

    /// dx[r, :] (=|+=) y ⊙ (dy − Σ dy ⊙ y) per row; `into` may be `grad` when not accumulating.
    static func rowsBackward(output y: UnsafePointer<Float>, grad g: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>,
                             rows: Int, length n: Int, accumulate: Bool) {
        for r in 0..<rows {
            let yr = y + r * n, gr = g + r * n, dr = dx + r * n
            var dot: Float = 0
            for i in 0..<n { dot += gr[i] * yr[i] }
            if accumulate { for i in 0..<n { dr[i] += yr[i] * (gr[i] - dot) } }
            else { for i in 0..<n { dr[i] = yr[i] * (gr[i] - dot) } }
        }
    }
}
