/// The input gradient of a stride-2 convolution as shifted GEMMs, one per input phase.
///
/// Phase (py, px) of the padded input's gradient, dXp[ci, 2a + py, 2b + px], collects only the
/// taps (ky, kx) ≡ (py, px) mod 2: dXp = Σ_{o, ky, kx} W[o, ci, ky, kx] · dY[o, a − ⌊ky/2⌋,
/// b − ⌊kx/2⌋], a stride-1 correlation of dY (zero-padded on the top and left) with those taps.
/// Four products over one padded copy of dY cover every input pixel once (a phase with no
/// taps, such as the odd ones of a 1×1 kernel, contributes zeros).
extension ConvGeometry {
    /// Whether the input gradient runs phase by phase (stride 2, channels a multiple of 4).
    var runsPhasedInputGradient: Bool { stride == 2 && c % ShiftedGemm.tileRows == 0 }

    private struct GradientPhase {
        let py, px: Int
        /// Taps of this phase as the A operand: [C, O·taps], column (o, ky, kx).
        let weights: [Float]
        /// Window start in the padded dY for each column of `weights`.
        let offsets: [Int]
    }

    /// dX (=|+=) the gradient of the input, all images.
    func phasedInputGradient(gy: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                             dx: UnsafeMutablePointer<Float>, overwrite: Bool) {
        let hq = phaseHeight, wq = phaseWidth
        let ty = (kh - 1) / 2, tx = (kw - 1) / 2   // largest tap shift: zero rows on top, columns on the left
        let hd = hq + ty, wd = wq + tx              // padded dY plane: [hd, wd]
        let planeD = hd * wd, grid = hq * wd
        let length = (o - 1) * planeD + ty * wd + tx + ShiftedGemm.paddedColumns(grid)
        let phases: [GradientPhase] = (0..<4).compactMap { phase in
            let py = phase / 2, px = phase % 2
            let kys = Array(Swift.stride(from: py, to: kh, by: 2)), kxs = Array(Swift.stride(from: px, to: kw, by: 2))
            let columns = o * kys.count * kxs.count
            guard columns > 0 else { return nil }
            var weights = [Float](repeating: 0, count: c * columns), offsets = [Int]()
            offsets.reserveCapacity(columns)
            for oc in 0..<o {
                for ky in kys {
                    for kx in kxs {
                        let col = offsets.count
                        for ci in 0..<c { weights[ci * columns + col] = weight[((oc * c + ci) * kh + ky) * kw + kx] }
                        offsets.append(oc * planeD + (ty - ky / 2) * wd + (tx - kx / 2))
                    }
                }
            }
            return GradientPhase(py: py, px: px, weights: weights, offsets: offsets)
        }
        Parallel.chunks(n) { _, images in
            let padded = Tensor(uninitializedShape: [length])   // padded: [O, hd, wd] plus slack
            let out = Tensor(uninitializedShape: [c, grid])      // out: [C, hq·wd], one phase
            for img in images {
                VectorMath.zero(padded.data, length)
                let src = gy + img * outPlane
                for oc in 0..<o {
                    for oy in 0..<ho {
                        let rowStart: Int = oc &* planeD &+ (ty &+ oy) &* wd &+ tx
                        let row = padded.data + rowStart, from = src + (oc &* ho &+ oy) &* wo
                        for ox in 0..<wo { row[ox] = from[ox] }
                    }
                }
                let dxImg = dx + img * inPlane
                if overwrite { VectorMath.zero(dxImg, inPlane) }
                for phase in phases {
                    phase.weights.withUnsafeBufferPointer { a in phase.offsets.withUnsafeBufferPointer { off in
                        ShiftedGemm.multiply(m: c, n: grid, k: off.count, a: a.baseAddress!, lda: off.count,
                                             base: padded.data, rowOffsets: off.baseAddress!, c: out.data, ldc: grid,
                                             accumulate: false)
                    } }
                    // Phase position (a, b) is input pixel (2a + py − p, 2b + px − p).
                    let firstColumn = max(0, (padding - phase.px + 1) / 2)
                    let lastColumn = max(firstColumn, min(wq, (w - 1 + padding - phase.px) / 2 + 1))
                    for ci in 0..<c {
                        for a in 0..<hq {
                            let iy = 2 &* a &+ phase.py &- padding
                            guard iy >= 0 && iy < h else { continue }
                            let fromStart: Int = ci &* grid &+ a &* wd
                            let toStart: Int = (ci &* h &+ iy) &* w &+ phase.px &- padding
                            let from = out.data + fromStart, to = dxImg + toStart
                            for b in firstColumn..<lastColumn { to[2 &* b] += from[b] }
                        }
                    }
                }
            }
        }
    }
}
