import EngineKernels
import Foundation

/// L2 normalisation and layer normalisation.
extension Tensor {
    /// Splits the shape around `dim` into (outer, size, inner) for strided reductions.
    @usableFromInline
    func split(at dim: Int) -> (outer: Int, size: Int, inner: Int) {
        let d = dim < 0 ? dim + rank : dim
        precondition(d >= 0 && d < rank, "dim \(dim) out of range for \(shape)")
        return (shape[..<d].reduce(1, *), shape[d], shape[(d + 1)...].reduce(1, *))
    }

    /// x / max(‖x‖₂, eps) along `dim` (PyTorch's `F.normalize`).
    public func l2Normalized(dim: Int = 1, eps: Float = 1e-12) -> Tensor {
        let (outer, size, inner) = split(at: dim)
        let y = Tensor(uninitializedShape: shape)
        // norms: [outer·inner], the clamped norm of each fibre
        let norms = Tensor(uninitializedShape: [outer * inner])
        for o in 0..<outer {
            for j in 0..<inner {
                let base = o * size * inner + j
                var ss: Float = 0
                for i in 0..<size { let v = data[base + i * inner]; ss += v * v }
                let nrm = max(ss.squareRoot(), eps)
                norms.data[o * inner + j] = nrm
                for i in 0..<size { y.data[base + i * inner] = data[base + i * inner] / nrm }
            }
        }
        Autograd.record(y, inputs: [self], op: "l2_normalize") { [self] g in
            accumulateGrad { dx, overwrite in
                for o in 0..<outer {
                    for j in 0..<inner {
                        let base = o * size * inner + j
                        let nrm = norms.data[o * inner + j]
                        let clamped = nrm <= eps
                        var dot: Float = 0
                        if !clamped { for i in 0..<size { dot += g.data[base + i * inner] * y.data[base + i * inner] } }
                        for i in 0..<size {
                            let k = base + i * inner
                            let v = (g.data[k] - y.data[k] * dot) / nrm
                            dx[k] = overwrite ? v : dx[k] + v
                        }
                    }
                }
            }
        }
        return y
    }

    /// Normalises over the last dimension, then scales and shifts (PyTorch's `F.layer_norm`).
    /// The affine gradients sum over every row: per image of the first dimension (its rows in
    /// float), the images in double, chunked by `reduction`.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5, reduction: BatchReduction = .singleProcess) -> Tensor {
        let l = shape[rank - 1]
        let rows = count / l
        let rowsPerImage = rank > 1 ? rows / shape[0] : rows
        let y = Tensor(uninitializedShape: shape)
        // xhat: same shape; rstd: [rows]
        let xhat = Tensor(uninitializedShape: shape)
        let rstd = Tensor(uninitializedShape: [rows])
        let scale = weight ?? Tensor.ones([l]), shift = bias ?? Tensor.zeros([l])
        RowKernels.layerNormRows(data, xhat: xhat.data, y: y.data, rstd: rstd.data, scale: scale.data, shift: shift.data,
                                 rows: rows, length: l, eps: eps)
        Autograd.record(y, inputs: [self] + [weight, bias].compactMap { $0 }, op: "layer_norm") { [self] g in
            let affine = (weight?.requiresGrad ?? false) || (bias?.requiresGrad ?? false)
            // Image by image: the input gradient of its rows, then (while they are in cache)
            // their share of dweight = Σ_rows g ⊙ x̂ and dbias = Σ_rows g: [2, L].
            func inputGradient(image: Int, into dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
                let first = image * rowsPerImage
                RowKernels.layerNormRowsBackward(grad: g.data + first * l, xhat: xhat.data + first * l, rstd: rstd.data + first,
                                                 scale: scale.data, into: dx + first * l, rows: rowsPerImage, length: l, accumulate: accumulate)
            }
            func affineSums(_ also: (Int) -> Void) -> [Double] {
                reduction.sum(images: rows / rowsPerImage, size: 2 * l) { image, chunk in
                    also(image)
                    let first = image * rowsPerImage * l
                    RowKernels.layerNormAffineGradient(grad: g.data + first, xhat: xhat.data + first, rows: rowsPerImage, length: l, into: chunk)
                }
            }
            var sums: [Double] = []
            switch (requiresGrad, affine) {
            case (true, true):
                accumulateGrad { dx, overwrite in sums = affineSums { inputGradient(image: $0, into: dx, accumulate: !overwrite) } }
            case (true, false):
                accumulateGrad { dx, overwrite in for image in 0..<(rows / rowsPerImage) { inputGradient(image: image, into: dx, accumulate: !overwrite) } }
            case (false, true):
                sums = affineSums { _ in }
            case (false, false):
                return
            }
            guard affine else { return }
            sums.withUnsafeBufferPointer { all in
                if let weight, weight.requiresGrad { weight.accumulatePreciseGrad(UnsafeBufferPointer(rebasing: all[0..<l])) }
                if let bias, bias.requiresGrad { bias.accumulatePreciseGrad(UnsafeBufferPointer(rebasing: all[l...])) }
            }
        }
        return y
    }
}
