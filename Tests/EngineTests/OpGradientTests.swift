import Engine
import TestSupport
import XCTest

/// Finite-difference checks of every op's backward pass.
final class OpGradientTests: XCTestCase {
    var rng = RandomGenerator(seed: 42)

    func input(_ shape: [Int], scale: Float = 1) -> Tensor { gradientInput(shape, scale: scale, rng: &rng) }

    /// Values kept at least `gap` apart from each other and from 0, so kinks (ReLU, max) are
    /// not crossed by the finite-difference step.
    func spaced(_ shape: [Int], gap: Float = 0.05) -> Tensor {
        let n = shape.reduce(1, *)
        let perm = rng.permutation(n)
        let t = Tensor(shape: shape, values: perm.map { Float($0 - n / 2) * gap + gap / 2 }, requiresGrad: true)
        return t
    }

    func testLinear() {
        checkGradients([input([4, 7]), input([5, 7]), input([5])]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
    }

    func testMatmul() {
        checkGradients([input([3, 6]), input([6, 4])]) { $0[0].matmul($0[1]) }
    }

    func testConv2dPadded() {
        checkGradients([input([2, 3, 7, 7]), input([4, 3, 3, 3]), input([4])]) {
            $0[0].conv2d(weight: $0[1], bias: $0[2], stride: 1, padding: 1)
        }
    }

    func testConv2dStrided() {
        checkGradients([input([2, 4, 8, 8]), input([6, 4, 3, 3])]) {
            $0[0].conv2d(weight: $0[1], stride: 2, padding: 1)
        }
    }

    func testConv2dPointwise() {
        checkGradients([input([2, 4, 5, 5]), input([3, 4, 1, 1])]) { $0[0].conv2d(weight: $0[1]) }
        checkGradients([input([2, 4, 6, 6]), input([3, 4, 1, 1])]) { $0[0].conv2d(weight: $0[1], stride: 2) }
        // Eight outputs, no bias: the shifted kernel writes straight into y (ResNet-50's 1×1s).
        checkGradients([input([2, 8, 5, 5]), input([8, 8, 1, 1])]) { $0[0].conv2d(weight: $0[1]) }
    }

    /// 28×28 maps run image by image; 14×14 maps take the weight gradient in groups of four
    /// images (1024 grid columns), so a batch of thirteen ends in a partial group.
    func testConv2dImageGroups() {
        convAgainstDirectLoop(n: 3, size: 28)
        convAgainstDirectLoop(n: 13, size: 14)
    }

    /// Splitting images across threads (with per-thread weight-gradient partials) gives the
    /// same forward values and gradients as one thread, on both weight-gradient paths.
    func testConv2dTwoThreadsMatchOne() {
        for size in [28, 14] {
            let x = input([12, 16, size, size]), w = input([8, 16, 3, 3], scale: 0.1)
            func run(_ threads: Int) -> ([Float], [Float], [Float]) {
                Parallel.threads = threads
                defer { Parallel.threads = 1 }
                x.grad = nil
                w.grad = nil
                let y = x.conv2d(weight: w, stride: 1, padding: 1)
                (y * y).sum().backward()
                return (y.values, x.grad!.values, w.grad!.values)
            }
            let one = run(1), two = run(2)
            assertClose(two.0, one.0, rtol: 1e-5, atol: 1e-6)
            assertClose(two.1, one.1, rtol: 1e-5, atol: 1e-6)
            assertClose(two.2, one.2, rtol: 1e-4, atol: 1e-4)
        }
    }

    /// The padded layout shares one border between neighbouring rows; kernels and paddings
    /// other than 3×3 / 1 must still see zeros exactly where the image ends, on both the
    /// image-by-image (20×20) and the grouped (7×7) weight-gradient paths.
    func testConv2dOtherKernelsAndPaddings() {
        for size in [20, 7] {
            convAgainstDirectLoop(n: 3, size: size, kernel: 5, padding: 2)
            convAgainstDirectLoop(n: 3, size: size, kernel: 3, padding: 0)
            convAgainstDirectLoop(n: 3, size: size, kernel: 3, padding: 2)
            convAgainstDirectLoop(n: 3, size: size, kernel: 1, padding: 1)
        }
    }

    /// Stride-2 convolutions run on the input's four phases (forward, weight and input
    /// gradients); every output and gradient element against direct loops, on ResNet's shapes
    /// (28 → 14, 14 → 7), odd sizes and 1×1 kernels.
    func testConv2dStride2AgainstDirectLoops() {
        for (size, k, p) in [(28, 3, 1), (14, 3, 1), (28, 1, 0), (14, 1, 0), (9, 3, 1), (8, 3, 0), (7, 1, 1), (11, 5, 2)] {
            stridedAgainstDirectLoops(n: 2, size: size, kernel: k, padding: p)
        }
        // 16 and 32 output channels take the broadcast weight-gradient kernel on AVX-512.
        stridedAgainstDirectLoops(n: 3, size: 14, kernel: 3, padding: 1, outChannels: 16)
        stridedAgainstDirectLoops(n: 2, size: 28, kernel: 1, padding: 0, outChannels: 32)
    }

    /// Stride 1 with 16, 32 and 48 output channels (the broadcast weight-gradient kernel on
    /// AVX-512, one image per group on 28×28 maps, several with a partial last group on
    /// 7×7), every element against direct loops.
    func testConv2dWideOutputsAgainstDirectLoops() {
        for (n, size, o) in [(2, 28, 16), (21, 7, 32), (3, 14, 48), (2, 10, 16)] {
            stridedAgainstDirectLoops(n: n, size: size, kernel: 3, padding: 1, outChannels: o, stride: 1)
        }
    }

    func stridedAgainstDirectLoops(n: Int, size s: Int, kernel k: Int, padding p: Int, outChannels o: Int = 8, stride st: Int = 2) {
        let c = 8
        let x = input([n, c, s, s]), w = input([o, c, k, k], scale: 0.1)
        let so = (s + 2 * p - k) / st + 1
        x.grad = nil
        w.grad = nil
        let y = x.conv2d(weight: w, stride: st, padding: p)
        var rng = RandomGenerator(seed: 5)
        let gy = Tensor.randn([n, o, so, so], rng: &rng)
        (y * gy).sum().backward()
        var yRef = [Float](repeating: 0, count: n * o * so * so)
        var dxRef = [Float](repeating: 0, count: x.count), dwRef = [Float](repeating: 0, count: w.count)
        for img in 0..<n { for oc in 0..<o { for oy in 0..<so { for ox in 0..<so {
            let yi = ((img * o + oc) * so + oy) * so + ox
            let g = gy[flat: yi]
            for ci in 0..<c { for ky in 0..<k { for kx in 0..<k {
                let iy = st * oy - p + ky, ix = st * ox - p + kx
                if iy < 0 || iy >= s || ix < 0 || ix >= s { continue }
                let xi = ((img * c + ci) * s + iy) * s + ix, wi = ((oc * c + ci) * k + ky) * k + kx
                yRef[yi] += x[flat: xi] * w[flat: wi]
                dxRef[xi] += g * w[flat: wi]
                dwRef[wi] += g * x[flat: xi]
            } } }
        } } } }
        let label = "size \(s) k \(k) p \(p) o \(o) stride \(st) n \(n)"
        XCTAssertEqual(y.shape, [n, o, so, so], label)
        assertClose(y.values, yRef, rtol: 1e-5, atol: 1e-5, "forward " + label)
        assertClose(x.grad!.values, dxRef, rtol: 1e-5, atol: 1e-5, "input gradient " + label)
        assertClose(w.grad!.values, dwRef, rtol: 1e-4, atol: 1e-4, "weight gradient " + label)
    }

    func convAgainstDirectLoop(n: Int, size s: Int, kernel k: Int = 3, padding p: Int = 1) {
        let c = 8
        let x = input([n, c, s, s]), w = input([4, c, k, k], scale: 0.1), b = input([4])
        checkGradients([x, w, b], samples: 20) { $0[0].conv2d(weight: $0[1], bias: $0[2], stride: 1, padding: p) }
        // Forward against a direct loop, at every output.
        let y = Autograd.noGrad { x.conv2d(weight: w, bias: b, stride: 1, padding: p) }
        let so = s + 2 * p - k + 1
        XCTAssertEqual(y.shape, [n, 4, so, so])
        var expected = [Float](repeating: 0, count: n * 4 * so * so)
        for img in 0..<n { for oc in 0..<4 { for oy in 0..<so { for ox in 0..<so {
            var acc = b[flat: oc]
            for ci in 0..<c { for ky in 0..<k { for kx in 0..<k {
                let iy = oy - p + ky, ix = ox - p + kx
                if iy < 0 || iy >= s || ix < 0 || ix >= s { continue }
                acc += x[flat: ((img * c + ci) * s + iy) * s + ix] * w[flat: ((oc * c + ci) * k + ky) * k + kx]
            } } }
            expected[((img * 4 + oc) * so + oy) * so + ox] = acc
        } } } }
        assertClose(y.values, expected, rtol: 1e-5, atol: 1e-5, "k \(k) p \(p) size \(s)")
    }

    func testBatchNormTrain2d() {
        let rm = Tensor.zeros([3]), rv = Tensor.ones([3])
        checkGradients([input([4, 3, 5, 5]), input([3]), input([3])], rtol: 3e-2, atol: 3e-3) {
            $0[0].batchNorm(weight: $0[1], bias: $0[2], runningMean: rm, runningVar: rv, training: true)
        }
    }

    func testBatchNormWithFusedReLU() {
        let rm = Tensor.zeros([3]), rv = Tensor.ones([3])
        let x = input([4, 3, 5, 5]), w = input([3]), b = input([3])
        // A small step: BN outputs straddle 0, and a larger one would cross the ReLU's kink.
        checkGradients([x, w, b], eps: 1e-3, rtol: 3e-2, atol: 3e-3) {
            $0[0].batchNorm(weight: $0[1], bias: $0[2], runningMean: rm, runningVar: rv, training: true, relu: true)
        }
        let fused = Autograd.noGrad { x.batchNorm(weight: w, bias: b, runningMean: nil, runningVar: nil, training: true, relu: true) }
        let separate = Autograd.noGrad { x.batchNorm(weight: w, bias: b, runningMean: nil, runningVar: nil, training: true).relu() }
        assertClose(fused, separate)
    }

    func testBatchNormWithResidualAndReLU() {
        let x = input([4, 3, 5, 5]), w = input([3]), b = input([3]), r = input([4, 3, 5, 5])
        checkGradients([x, w, b, r], eps: 1e-3, rtol: 3e-2, atol: 3e-3) {
            $0[0].batchNorm(weight: $0[1], bias: $0[2], runningMean: nil, runningVar: nil, training: true, residual: $0[3], relu: true)
        }
        let fused = Autograd.noGrad { x.batchNorm(weight: w, bias: b, runningMean: nil, runningVar: nil, training: true, residual: r, relu: true) }
        let separate = Autograd.noGrad { Tensor.addReLU(x.batchNorm(weight: w, bias: b, runningMean: nil, runningVar: nil, training: true), r) }
        assertClose(fused, separate)
    }

    func testAddReLU() {
        checkGradients([spaced([3, 4, 5]), spaced([3, 4, 5], gap: 0.031)]) { Tensor.addReLU($0[0], $0[1]) }
    }

    func testBatchNormTrain1d() {
        checkGradients([input([8, 6]), input([6]), input([6])], rtol: 3e-2, atol: 3e-3) {
            $0[0].batchNorm(weight: $0[1], bias: $0[2], runningMean: nil, runningVar: nil, training: true)
        }
    }

    func testBatchNormEval() {
        let rm = Tensor(shape: [3], values: [0.1, -0.2, 0.3]), rv = Tensor(shape: [3], values: [0.5, 1.5, 2])
        checkGradients([input([2, 3, 4, 4]), input([3]), input([3])]) {
            $0[0].batchNorm(weight: $0[1], bias: $0[2], runningMean: rm, runningVar: rv, training: false)
        }
    }

    func testReLU() {
        checkGradients([spaced([3, 4, 5])]) { $0[0].relu() }
    }

    func testResidualAddAndScale() {
        checkGradients([input([3, 4]), input([3, 4])]) { ($0[0] + $0[1]) * 1.5 }
    }

    func testElementwiseProduct() {
        checkGradients([input([3, 4]), input([3, 4])]) { $0[0] * $0[1] }
    }

    func testMaxPool() {
        checkGradients([spaced([2, 3, 6, 6])]) { $0[0].maxPool2d(kernel: 2, stride: 2) }
        checkGradients([spaced([2, 2, 7, 7])]) { $0[0].maxPool2d(kernel: 3, stride: 2, padding: 1) }
    }

    func testAvgPool() {
        checkGradients([input([2, 3, 6, 6])]) { $0[0].avgPool2d(kernel: 2, stride: 2) }
        checkGradients([input([2, 3, 7, 7])]) { $0[0].avgPool2d(kernel: 3, stride: 2, padding: 1) }
    }

    func testGlobalAvgPool() {
        checkGradients([input([3, 4, 5, 6])]) { $0[0].globalAvgPool2d() }
    }

    func testDropout() {
        var dropRNG = RandomGenerator(seed: 3)
        let mask = Tensor.ones([4, 8])
        let kept = mask.dropout(p: 0.25, training: true, rng: &dropRNG)
        let zeros = kept.values.filter { $0 == 0 }.count
        XCTAssertGreaterThan(zeros, 0)
        XCTAssertTrue(kept.values.allSatisfy { $0 == 0 || abs($0 - 1 / 0.75) < 1e-6 })
        // The same stream gives the same mask, so the op is differentiable as a fixed product.
        checkGradients([input([4, 8])]) { x in
            var r = RandomGenerator(seed: 9)
            return x[0].dropout(p: 0.25, training: true, rng: &r)
        }
        XCTAssertTrue(mask.dropout(p: 0.5, training: false, rng: &dropRNG) === mask)
    }

    func testCrossEntropy() {
        let targets = [1, 0, 4, 2, 2, 3]
        checkGradients([input([6, 5])]) { $0[0].crossEntropy(targets: targets) }
        checkGradients([input([6, 5])]) { $0[0].crossEntropy(targets: targets, labelSmoothing: 0.1) }
    }

    func testLogSoftmax() {
        checkGradients([input([4, 9])]) { $0[0].logSoftmax(dim: 1) }
        checkGradients([input([3, 4, 5])]) { $0[0].logSoftmax(dim: 1) }
    }

    func testL2Normalize() {
        checkGradients([input([5, 8])]) { $0[0].l2Normalized(dim: 1) }
        checkGradients([input([2, 3, 4])]) { $0[0].l2Normalized(dim: 1) }
    }

    func testLayerNorm() {
        checkGradients([input([3, 4, 10]), input([10]), input([10])], rtol: 3e-2, atol: 3e-3) {
            $0[0].layerNorm(weight: $0[1], bias: $0[2])
        }
    }

    func testConcat() {
        checkGradients([input([2, 3, 4]), input([2, 2, 4])]) { Tensor.concat($0, dim: 1) }
        checkGradients([input([2, 3]), input([1, 3])]) { Tensor.concat($0, dim: 0) }
    }

    func testReshapeAndTranspose() {
        checkGradients([input([2, 3, 4])]) { $0[0].reshaped([6, 4]).transposed() }
    }

    func testInfoNCE() {
        let q = input([6, 8]), k = input([6, 8])
        let queue = Tensor.randn([10, 8], rng: &rng).l2Normalized(dim: 1)
        checkGradients([q, k]) { $0[0].infoNCE(keys: $0[1], queue: queue, temperature: 0.5).loss }
    }

    func testInfoNCEMatchesComposedOps() {
        let q = input([4, 6]).l2Normalized(dim: 1).detached(), k = input([4, 6]).l2Normalized(dim: 1).detached()
        let queue = Tensor.randn([7, 6], rng: &rng).l2Normalized(dim: 1)
        let fused = q.infoNCE(keys: k, queue: queue, temperature: 0.2)
        let pos = (q * k).matmul(Tensor.ones([6, 1]))
        let neg = q.matmul(queue.transposed())
        let logits = Tensor.concat([pos, neg], dim: 1) * (1 / 0.2)
        assertClose(fused.logits, logits)
        assertClose(fused.loss, logits.crossEntropy(targets: [0, 0, 0, 0]))
    }
}
