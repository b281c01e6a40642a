import Foundation
import Engine
import TestSupport
import XCTest

/// Finite-difference checks of the transformer ops (GELU, softmax, attention, tokens) and of
/// the ViT as a whole.
final class TransformerOpGradientTests: XCTestCase {
    var rng = RandomGenerator(seed: 11)

    func input(_ shape: [Int], scale: Float = 1) -> Tensor { gradientInput(shape, scale: scale, rng: &rng) }

    func testGELU() {
        checkGradients([input([3, 17], scale: 2)], eps: 1e-3) { $0[0].gelu() }
    }

    func testGELUValuesAreTheExactForm() {
        let x = Tensor(shape: [4], values: [-2, -0.5, 0, 1.5])
        // x·Φ(x), Φ from the normal table: Φ(−2) = 0.0227501, Φ(−0.5) = 0.3085375, Φ(1.5) = 0.9331928
        assertClose(x.gelu().values, [-2 * 0.0227501, -0.5 * 0.3085375, 0, 1.5 * 0.9331928], rtol: 1e-5, atol: 1e-6)
    }

    func testSoftmaxOverTheLastAndAMiddleDimension() {
        checkGradients([input([4, 9])], eps: 1e-3) { $0[0].softmax(dim: -1) }
        checkGradients([input([2, 5, 3])], eps: 1e-3) { $0[0].softmax(dim: 1) }
        let y = input([2, 5, 3]).softmax(dim: 1)
        for o in 0..<2 { for j in 0..<3 {
            let s = (0..<5).map { y[flat: o * 15 + $0 * 3 + j] }.reduce(0, +)
            XCTAssertEqual(s, 1, accuracy: 1e-6)
        } }
    }

    func testScaledDotProductAttentionSelfAndCross() {
        checkGradients([input([2, 2, 5, 4]), input([2, 2, 5, 4]), input([2, 2, 5, 4])], eps: 1e-3) {
            Tensor.scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2])
        }
        checkGradients([input([1, 3, 3, 8]), input([1, 3, 6, 8]), input([1, 3, 6, 8])], eps: 1e-3) {
            Tensor.scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], scale: 0.2)
        }
    }

    /// The packed op equals splitting qkv into heads by hand and running the plain op per head.
    func testPackedSelfAttentionMatchesSplitHeads() {
        let (n, l, d, h) = (2, 5, 8, 2)
        let qkv = input([n, l, 3 * d])
        checkGradients([qkv], eps: 1e-3) { Tensor.multiHeadSelfAttention(packed: $0[0], heads: h) }
        let y = Autograd.noGrad { Tensor.multiHeadSelfAttention(packed: qkv, heads: h) }
        let dh = d / h
        func split(_ third: Int) -> Tensor {   // [N, H, L, dh]
            let t = Tensor(uninitializedShape: [n, h, l, dh])
            for b in 0..<n { for hd in 0..<h { for i in 0..<l { for c in 0..<dh {
                t[flat: ((b * h + hd) * l + i) * dh + c] = qkv[flat: (b * l + i) * 3 * d + third * d + hd * dh + c]
            } } } }
            return t
        }
        let o = Autograd.noGrad { Tensor.scaledDotProductAttention(query: split(0), key: split(1), value: split(2)) }
        var merged = [Float](repeating: 0, count: n * l * d)
        for b in 0..<n { for hd in 0..<h { for i in 0..<l { for c in 0..<dh {
            merged[(b * l + i) * d + hd * dh + c] = o[flat: ((b * h + hd) * l + i) * dh + c]
        } } } }
        assertClose(y.values, merged, rtol: 1e-6, atol: 1e-7)
    }

    func testTokenOps() {
        checkGradients([input([2, 3, 2, 3])], eps: 1e-3) { $0[0].tokensFromGrid() }
        checkGradients([input([3, 4, 5]), input([1, 1, 5])], eps: 1e-3) { $0[0].prependingToken($0[1]) }
        checkGradients([input([3, 4, 5]), input([1, 4, 5])], eps: 1e-3) { $0[0].addingToEachImage($0[1]) }
        checkGradients([input([3, 4, 5])], eps: 1e-3) { $0[0].token(0) }
        checkGradients([input([3, 4, 5])], eps: 1e-3) { $0[0].meanOfTokens(from: 1) }
        checkGradients([input([2, 4, 6]), input([6]), input([6])], eps: 1e-3) { $0[0].layerNorm(weight: $0[1], bias: $0[2], eps: 1e-6) }
    }

    func testTokenSelectionAndPerImageScaling() {
        // Image 0 keeps tokens 3, 0, 3 (a repeat: its gradient adds up), image 1 tokens 1, 2, 0.
        checkGradients([input([2, 4, 5])], eps: 1e-3) { $0[0].gatheringTokens([3, 0, 3, 1, 2, 0], perImage: 3) }
        checkGradients([input([2, 2, 5])], eps: 1e-3) { $0[0].scatteringTokens([3, 0, 1, 2], length: 4) }
        checkGradients([input([3, 4, 5])], eps: 1e-3) { $0[0].scalingEachImage(by: [0, 1.25, -2]) }
        // Scattering the kept tokens back puts them where they were and zeros elsewhere.
        let x = input([2, 4, 3])
        let kept = [2, 0, 3, 1], back = x.gatheringTokens(kept, perImage: 2).scatteringTokens(kept, length: 4)
        for image in 0..<2 { for t in 0..<4 { for j in 0..<3 {
            let e = (image * 4 + t) * 3 + j
            XCTAssertEqual(back[flat: e], kept[(image * 2)..<(image * 2 + 2)].contains(t) ? x[flat: e] : 0)
        } } }
    }

    /// MAE's table, as PyTorch's reference built it (`buffer.pos_embed` and
    /// `buffer.decoder_pos_embed` of the `mae_step` golden case), in `ToolsTests`; here its
    /// structure: the class row zero, sin² + cos² = 1 per quarter, column first.
    func testSinCosPositionTableLayout() {
        let (g, d) = (3, 8)
        let table = Tensor.sinCosPositionTable(grid: g, dim: d)
        XCTAssertEqual(table.shape, [1, 1 + g * g, d])
        XCTAssertEqual(Array(table.values[0..<d]), [Float](repeating: 0, count: d))
        // Patch (row 2, column 1): ω = [1, 0.01]; the first half encodes the column.
        let row = Array(table.values[((1 + 2 * g + 1) * d)..<((2 + 2 * g + 1) * d)])
        assertClose(row, [sin(1), sin(0.01), cos(1), cos(0.01), sin(2), sin(0.02), cos(2), cos(0.02)], rtol: 1e-6, atol: 1e-7)
    }

    /// Stochastic depth: whole images are dropped or scaled by 1/(1 − p), about p of them, and
    /// two replicas holding every other image drop exactly the images one process would.
    func testDropPathDropsWholeImagesByGlobalPosition() {
        let p: Float = 0.25, n = 400
        let x = Tensor(shape: [n, 2, 3], repeating: 1)
        let whole = DropPath(p: p, seed: 9)
        let y = whole(x)
        var dropped = 0
        for i in 0..<n {
            let image = Array(y.values[(i * 6)..<((i + 1) * 6)])
            XCTAssertTrue(image == [Float](repeating: 0, count: 6) || image == [Float](repeating: 1 / (1 - p), count: 6))
            if image[0] == 0 { dropped += 1 }
        }
        XCTAssertEqual(Double(dropped) / Double(n), Double(p), accuracy: 0.07)
        let halves = (0..<2).map { rank -> [Float] in
            let layer = DropPath(p: p, seed: 9)
            layer.positions = SamplePositions(rank: rank, replicas: 2)
            return layer(Tensor(shape: [n / 2, 2, 3], repeating: 1)).values
        }
        for i in 0..<n { XCTAssertEqual(halves[i % 2][(i / 2) * 6], y[flat: i * 6], "image \(i)") }
        whole.eval()
        XCTAssertEqual(whole(x).values, x.values)
    }

    /// A linear layer on token rows sums its weight gradient per image chunk: two ranks each
    /// holding every other image of the global batch (the sharded sampler's layout) add up to
    /// the bits of one process holding all of it.
    func testTokenRowsLinearChunksByImage() {
        checkGradients([input([4 * 3, 5]), input([7, 5]), input([7])], eps: 1e-3) {
            $0[0].linear(weight: $0[1], bias: $0[2], rowsPerImage: 3)
        }
        let (images, rows, i, o) = (8, 3, 5, 7)
        let x = Tensor.randn([images * rows, i], rng: &rng), g = Tensor.randn([images * rows, o], rng: &rng)
        let weight = input([o, i])
        func gradient(of picked: [Int], replicas: Int) -> [Double] {
            let xs = Tensor(shape: [picked.count * rows, i], values: picked.flatMap { Array(x.values[($0 * rows * i)..<(($0 + 1) * rows * i)]) })
            let gs = Tensor(shape: [picked.count * rows, o], values: picked.flatMap { Array(g.values[($0 * rows * o)..<(($0 + 1) * rows * o)]) })
            weight.grad = nil
            xs.linear(weight: weight, bias: nil, reduction: BatchReduction(replicas: replicas), rowsPerImage: rows).backward(gradient: gs)
            return weight.gradPrecise ?? []
        }
        let whole = gradient(of: Array(0..<images), replicas: 1)
        let even = gradient(of: [0, 2, 4, 6], replicas: 2), odd = gradient(of: [1, 3, 5, 7], replicas: 2)
        XCTAssertEqual(whole.count, o * i)
        XCTAssertEqual(whole, zip(even, odd).map { $0 + $1 })
    }

    func testVisionTransformerGradients() {
        let vit = VisionTransformer(.init(imageSize: 8, channels: 1, patch: 4, dim: 8, depth: 1, heads: 2, mlpRatio: 2, classes: 3),
                                    rng: &rng)
        let images = Tensor.randn([2, 1, 8, 8], rng: &rng)
        for (_, p) in vit.namedParameters() { for i in 0..<p.count { p[flat: i] += 0.1 * Float(rng.uniform() - 0.5) } }
        checkGradients(vit.parameters(), eps: 1e-3, samples: 6) { _ in vit(images) }
        let mean = VisionTransformer(.init(imageSize: 8, channels: 1, patch: 4, dim: 8, depth: 1, heads: 2, mlpRatio: 2, classes: 3,
                                           pooling: .mean), rng: &rng)
        checkGradients(mean.parameters(), eps: 1e-3, samples: 6) { _ in mean(images) }
        // A fixed sin-cos table is a buffer, not a parameter; drop-path adds no parameters.
        let fixed = VisionTransformer(.init(imageSize: 8, channels: 1, patch: 4, dim: 8, depth: 2, heads: 2, mlpRatio: 2, classes: 3,
                                            dropPath: 0.1, positions: .sincos), rng: &rng)
        XCTAssertEqual(fixed.namedBuffers().map(\.0), ["pos_embed"])
        XCTAssertFalse(fixed.namedParameters().map(\.0).contains("pos_embed"))
        XCTAssertEqual(fixed.layers(of: DropPath.self).map(\.p), [0.1, 0.1], "block 0 has rate 0, block 1 the full rate")
        for (_, p) in fixed.namedParameters() { for i in 0..<p.count { p[flat: i] += 0.1 * Float(rng.uniform() - 0.5) } }
        fixed.eval()
        checkGradients(fixed.parameters(), eps: 1e-3, samples: 6) { _ in fixed(images) }
    }
}

/// MAE's pieces: the mask token put where patches were removed, and patches in MAE's layout.
final class MaskedAutoencoderOpTests: XCTestCase {
    var rng = RandomGenerator(seed: 17)

    func testAddingTheMaskTokenHasTheRightGradients() {
        let places = [1, 3, 0, 2, 4, 2]   // two places in each of three images
        checkGradients([gradientInput([3, 5, 4], rng: &rng), gradientInput([1, 1, 4], rng: &rng)], eps: 1e-3) {
            $0[0].addingToken($0[1], at: places, perImage: 2)
        }
        let x = Tensor.zeros([1, 3, 2]), token = Tensor(shape: [1, 1, 2], values: [5, 7])
        XCTAssertEqual(x.addingToken(token, at: [2], perImage: 1).values, [0, 0, 0, 0, 5, 7])
    }

    /// Patch l of image n is the row-major patch index; its values run over pixel rows, then
    /// columns, then channels (MAE's `einsum("nchpwq->nhwpqc")`); unpatchified undoes it.
    func testPatchifiedIsMAEsLayoutAndUnpatchifiedItsInverse() {
        let (n, c, h, w, p) = (2, 3, 4, 6, 2)
        let images = Tensor.randn([n, c, h, w], rng: &rng)
        let patches = images.patchified(patch: p)
        XCTAssertEqual(patches.shape, [n, (h / p) * (w / p), p * p * c])
        for i in 0..<n { for py in 0..<(h / p) { for px in 0..<(w / p) { for dy in 0..<p { for dx in 0..<p { for ch in 0..<c {
            let patch = py * (w / p) + px, element = (dy * p + dx) * c + ch
            XCTAssertEqual(patches[flat: (i * (h / p) * (w / p) + patch) * p * p * c + element],
                           images[flat: ((i * c + ch) * h + py * p + dy) * w + px * p + dx])
        } } } } } }
        XCTAssertEqual(patches.unpatchified(patch: p, channels: c, height: h, width: w).values, images.values)
    }
}
