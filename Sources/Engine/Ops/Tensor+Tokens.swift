import Foundation

/// Token sequences [N, L, D]: from a patch grid, with a class token and position embeddings
/// added, and pooled back to one vector per image.
///
/// A learned token or table added to every image gets the sum of its gradient over the
/// batch; those sums are formed per image in double and chunked (`BatchReduction`), so they
/// do not depend on how the batch is split across ranks.
extension Tensor {
    /// [N, C, H, W] → [N, H·W, C]: each grid position becomes a token, in row-major order
    /// (timm's `flatten(2).transpose(1, 2)` after the patch embedding).
    public func tokensFromGrid() -> Tensor {
        precondition(rank == 4, "tokensFromGrid needs [N, C, H, W], got \(shape)")
        let (n, c, l) = (shape[0], shape[1], shape[2] * shape[3])
        let y = Tensor(uninitializedShape: [n, l, c])
        for i in 0..<n { Tensor.transpose(data + i * c * l, rows: c, cols: l, into: y.data + i * l * c) }
        Autograd.record(y, inputs: [self], op: "tokens") { [self] g in
            accumulateGrad { d, overwrite in
                for i in 0..<n {
                    let src = g.data + i * l * c, dst = d + i * c * l
                    for t in 0..<l { for ch in 0..<c {
                        let v = src[t * c + ch]
                        dst[ch * l + t] = overwrite ? v : dst[ch * l + t] + v
                    } }
                }
            }
        }
        return y
    }

    /// [N, L, D] with `token` [1, 1, D] put in front of every sequence → [N, 1+L, D].
    public func prependingToken(_ token: Tensor, reduction: BatchReduction = .singleProcess) -> Tensor {
        precondition(rank == 3 && token.shape == [1, 1, shape[2]], "prependingToken: \(token.shape) before tokens \(shape)")
        let (n, l, d) = (shape[0], shape[1], shape[2])
        let y = Tensor(uninitializedShape: [n, l + 1, d])
        for i in 0..<n {
            (y.data + i * (l + 1) * d).update(from: token.data, count: d)
            (y.data + (i * (l + 1) + 1) * d).update(from: data + i * l * d, count: l * d)
        }
        Autograd.record(y, inputs: [self, token], op: "class_token") { [self] g in
            if requiresGrad {
                accumulateGrad { dx, overwrite in
                    for i in 0..<n {
                        let src = g.data + (i * (l + 1) + 1) * d, dst = dx + i * l * d
                        if overwrite { dst.update(from: src, count: l * d) } else { for j in 0..<(l * d) { dst[j] += src[j] } }
                    }
                }
            }
            if token.requiresGrad {
                let sums = reduction.sum(images: n, size: d) { i, chunk in
                    let row = g.data + i * (l + 1) * d
                    for j in 0..<d { chunk[j] += Double(row[j]) }
                }
                sums.withUnsafeBufferPointer { token.accumulatePreciseGrad($0) }
            }
        }
        return y
    }

    /// [N, L, D] + `table` [1, L, D] for every image (a position embedding).
    public func addingToEachImage(_ table: Tensor, reduction: BatchReduction = .singleProcess) -> Tensor {
        precondition(rank >= 2 && table.shape == [1] + shape.dropFirst(), "addingToEachImage: \(table.shape) to \(shape)")
        let (n, size) = (shape[0], table.count)
        let y = Tensor(uninitializedShape: shape)
        for i in 0..<n {
            let x = data + i * size, out = y.data + i * size
            for j in 0..<size { out[j] = x[j] + table.data[j] }
        }
        Autograd.record(y, inputs: [self, table], op: "position_table") { [self] g in
            if requiresGrad { addGrad(from: g) }
            if table.requiresGrad {
                let sums = reduction.sum(images: n, size: size) { i, chunk in
                    let row = g.data + i * size
                    for j in 0..<size { chunk[j] += Double(row[j]) }
                }
                sums.withUnsafeBufferPointer { table.accumulatePreciseGrad($0) }
            }
        }
        return y
    }

    /// Token `index` of every sequence: [N, L, D] → [N, D] (the class token's output).
    public func token(_ index: Int) -> Tensor {
        precondition(rank == 3 && index >= 0 && index < shape[1], "token \(index) of \(shape)")
        let (n, l, d) = (shape[0], shape[1], shape[2])
        let y = Tensor(uninitializedShape: [n, d])
        for i in 0..<n { (y.data + i * d).update(from: data + (i * l + index) * d, count: d) }
        Autograd.record(y, inputs: [self], op: "token") { [self] g in
            accumulateGrad { dx, overwrite in
                if overwrite { VectorMath.zero(dx, count) }
                for i in 0..<n {
                    let dst = dx + (i * l + index) * d, src = g.data + i * d
                    for j in 0..<d { dst[j] += src[j] }
                }
            }
        }
        return y
    }

    /// The mean of tokens `first…` of every sequence: [N, L, D] → [N, D] (timm's `avg` pooling
    /// skips the class token with `first` = 1).
    public func meanOfTokens(from first: Int) -> Tensor {
        precondition(rank == 3 && first >= 0 && first < shape[1], "meanOfTokens from \(first) of \(shape)")
        let (n, l, d) = (shape[0], shape[1], shape[2])
        let scale = 1 / Float(l - first)
        let y = Tensor(shape: [n, d], repeating: 0)
        for i in 0..<n {
            let out = y.data + i * d
            for t in first..<l { let row = data + (i * l + t) * d; for j in 0..<d { out[j] += row[j] } }
            for j in 0..<d { out[j] *= scale }
        }
        Autograd.record(y, inputs: [self], op: "mean_tokens") { [self] g in
            accumulateGrad { dx, overwrite in
                for i in 0..<n {
                    let src = g.data + i * d
                    for t in 0..<l {
                        let dst = dx + (i * l + t) * d
                        for j in 0..<d {
                            let v = t < first ? 0 : src[j] * scale
                            dst[j] = overwrite ? v : dst[j] + v
                        }
                    }
                }
            }
        }
        return y
    }

    /// MAE's fixed 2-D sine-cosine position table (`get_2d_sincos_pos_embed(dim, grid,
    /// cls_token=True)`), [1, 1 + g², D]: row 0 (the class token) is zero; row 1 + i·g + j
    /// (patch row i, column j) is [sin(j·ω), cos(j·ω), sin(i·ω), cos(i·ω)] with
    /// ω_k = 10000^(−k/(D/4)), k = 0…D/4−1 — the column first, as MAE has it. Computed in
    /// double and rounded once, as numpy's table cast to float32 is.
    public static func sinCosPositionTable(grid g: Int, dim d: Int) -> Tensor {
        precondition(g >= 1 && d >= 4 && d % 4 == 0, "sinCosPositionTable: grid \(g), width \(d) (a multiple of 4)")
        let quarter = d / 4
        let table = Tensor(shape: [1, 1 + g * g, d], repeating: 0)
        let omega = (0..<quarter).map { 1 / pow(10_000.0, Double($0) / Double(quarter)) }
        for i in 0..<g {
            for j in 0..<g {
                let row = table.data + (1 + i * g + j) * d
                for k in 0..<quarter {
                    let (column, line) = (Double(j) * omega[k], Double(i) * omega[k])
                    row[k] = Float(sin(column))
                    row[quarter + k] = Float(cos(column))
                    row[2 * quarter + k] = Float(sin(line))
                    row[3 * quarter + k] = Float(cos(line))
                }
            }
        }
        return table
    }
}
