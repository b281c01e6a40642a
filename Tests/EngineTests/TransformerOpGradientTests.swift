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
    }
}
