import Engine
import EngineKernels
import EngineKernelsAVX512
import TestSupport
import XCTest

/// The register-tiled kernels (`TileGemmKernel`): right against a plain loop for every operand
/// form (A row-major or transposed, segments of inner rows, each start), columns outside
/// [0, n) of C left alone, and the same bits from every tile shape and vector width.
final class TileGemmTests: XCTestCase {
    var rng = RandomGenerator(seed: 31)

    /// One product's operands in padded buffers, C's rows `ldc` apart with room past n.
    struct Case {
        let m, n, k: Int
        let transposedA: Bool
        let segments: [Int]?
        let a, b, bias, c0: [Float]
        var sa: Int { transposedA ? 1 : innerRows }
        var st: Int { transposedA ? m : 1 }
        var ldb: Int { n + 5 }
        var ldc: Int { n + 7 }
        var innerRows: Int { segments.map { ($0.max() ?? 0) + k } ?? k }
        var inner: [Int] { segments.map { $0.flatMap { s in s..<(s + k) } } ?? Array(0..<k) }

        /// C in double: start + Σ over the inner rows.
        func expected(_ start: String) -> [Float] {
            var c = c0
            for i in 0..<m { for j in 0..<n {
                var s = 0.0
                for t in inner { s += Double(a[i * sa + t * st]) * Double(b[t * ldb + j]) }
                let initial = start == "accumulate" ? Double(c0[i * ldc + j]) : start == "row" ? Double(bias[j]) : 0
                c[i * ldc + j] = Float(initial + s)
            } }
            return c
        }
    }

    func makeCase(m: Int, n: Int, k: Int, transposedA: Bool, segments: [Int]? = nil) -> Case {
        let rows = segments.map { ($0.max() ?? 0) + k } ?? k
        func values(_ count: Int) -> [Float] { Tensor.randn([count], rng: &rng).values }
        // Every operand gets BufferPool's slack past its end, as tensors do.
        let pad = BufferPool.slack
        return Case(m: m, n: n, k: k, transposedA: transposedA, segments: segments,
                    a: values(m * rows + pad), b: values(rows * (n + 5) + pad), bias: values(n + pad), c0: values(m * (n + 7) + pad))
    }

    /// Runs `c` through `multiply` with the given start; returns C.
    func run(_ c: Case, start: String, _ multiply: (TileGemmProblem) -> Void) -> [Float] {
        var out = c.c0
        c.a.withUnsafeBufferPointer { a in c.b.withUnsafeBufferPointer { b in c.bias.withUnsafeBufferPointer { bias in
            out.withUnsafeMutableBufferPointer { cp in
                let begin: TileGemmProblem.Start = start == "zero" ? .zero : start == "row" ? .row(bias.baseAddress!) : .accumulate
                func go(_ segments: UnsafeBufferPointer<Int>?) {
                    multiply(TileGemmProblem(m: c.m, n: c.n, k: c.k, a: a.baseAddress!, sa: c.sa, st: c.st, b: b.baseAddress!, ldb: c.ldb,
                                             c: cp.baseAddress!, ldc: c.ldc, start: begin, segments: segments))
                }
                if let segments = c.segments { segments.withUnsafeBufferPointer { go($0) } } else { go(nil) }
            }
        } } }
        return out
    }

    /// Every kernel family this CPU runs.
    var families: [(String, (TileGemmProblem) -> Void)] {
        var all: [(String, (TileGemmProblem) -> Void)] = [("avx2", TileGemmAVX2.multiply)]
        if CPUFeatures.hasAVX512 {
            all += [("avx512", TileGemmAVX512.multiply), ("avx512 narrow", TileGemmAVX512.multiplyNarrow)]
        }
        return all
    }

    func testEveryFormMatchesAPlainLoopAndLeavesTheRestOfCAlone() {
        let shapes = [(1, 1, 1), (5, 3, 7), (13, 24, 9), (50, 50, 24), (9, 40, 33), (17, 96, 12), (6, 130, 5), (50, 24, 50)]
        for (m, n, k) in shapes {
            for transposed in [false, true] {
                for segments in [nil, [0, 2 * k + 3, k]] as [[Int]?] {
                    let c = makeCase(m: m, n: n, k: k, transposedA: transposed, segments: segments)
                    for start in ["zero", "accumulate", "row"] {
                        let want = c.expected(start)
                        for (name, multiply) in families {
                            let got = run(c, start: start, multiply)
                            let what = "\(name) m \(m) n \(n) k \(k) transposed \(transposed) segments \(segments ?? []) start \(start)"
                            assertClose(got, want, rtol: 1e-5, atol: 1e-5, what)
                            for i in 0..<m { for j in n..<c.ldc {
                                XCTAssertEqual(got[i * c.ldc + j], c.c0[i * c.ldc + j], "column \(j) outside the product changed, " + what)
                            } }
                        }
                    }
                }
            }
        }
    }

    /// Each element is one chain of multiply-adds over the inner rows in order, whatever the
    /// tile shape or vector width: every family gives the same bits.
    func testEveryTileShapeAndWidthGivesTheSameBits() {
        for (m, n, k) in [(50, 24, 50), (50, 50, 24), (37, 96, 19), (8, 288, 96), (96, 96, 61)] {
            for transposed in [false, true] {
                let c = makeCase(m: m, n: n, k: k, transposedA: transposed, segments: transposed ? [3, 0, 2 * k] : nil)
                let results = families.map { run(c, start: "row", $0.1) }
                for (index, result) in results.enumerated().dropFirst() {
                    XCTAssertEqual(result, results[0], "\(families[index].0) against avx2, m \(m) n \(n) k \(k) transposed \(transposed)")
                }
            }
        }
    }
}
