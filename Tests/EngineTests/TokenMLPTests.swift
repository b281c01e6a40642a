import Engine
import TestSupport
import XCTest

/// The fused feed-forward op (`Tensor.tokenMLP`) against finite differences and against the
/// three ops it replaces, bit for bit.
final class TokenMLPTests: XCTestCase {
    var rng = RandomGenerator(seed: 41)

    func input(_ shape: [Int], scale: Float = 1) -> Tensor { gradientInput(shape, scale: scale, rng: &rng) }

    func testGradients() {
        checkGradients([input([3 * 4, 5]), input([7, 5]), input([7]), input([6, 7]), input([6])], eps: 1e-3) {
            $0[0].tokenMLP(fc1: $0[1], $0[2], fc2: $0[3], $0[4], rowsPerImage: 4)
        }
        checkGradients([input([2 * 5, 8]), input([16, 8]), input([8, 16])], eps: 1e-3) {
            $0[0].tokenMLP(fc1: $0[1], nil, fc2: $0[2], nil, rowsPerImage: 5)
        }
    }

    /// The same values and gradients as linear → GELU → linear, to the bit.
    func testEqualsTheThreeOps() {
        let (rows, d, h) = (6 * 7, 24, 48)
        let x = Tensor.randn([rows, d], rng: &rng), g = Tensor.randn([rows, d], rng: &rng)
        let params = [input([h, d]), input([h]), input([d, h]), input([d])]
        func run(_ fused: Bool) -> [[Float]] {
            let xv = Tensor(shape: x.shape, values: x.values, requiresGrad: true)
            for p in params { p.grad = nil }
            let y = fused
                ? xv.tokenMLP(fc1: params[0], params[1], fc2: params[2], params[3], rowsPerImage: 7)
                : xv.linear(weight: params[0], bias: params[1], rowsPerImage: 7).gelu().linear(weight: params[2], bias: params[3], rowsPerImage: 7)
            y.backward(gradient: g)
            return [y.values, xv.grad!.values] + params.map { $0.grad!.values }
        }
        let (fused, composed) = (run(true), run(false))
        for (index, name) in ["y", "dx", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"].enumerated() {
            XCTAssertEqual(fused[index], composed[index], name)
        }
    }
}
