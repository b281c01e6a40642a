@testable import Datasets
import Engine
import TestSupport
import XCTest

final class ContrastiveAugmentationTests: XCTestCase {
    /// Settings that change nothing: the full image, no jitter, blur or flip.
    private var identity: ContrastiveAugmentation.Settings {
        var s = ContrastiveAugmentation.Settings()
        s.cropScale = 1...1
        s.cropRatio = 1...1
        s.flipProbability = 0
        s.jitterProbability = 0
        s.blurProbability = 0
        return s
    }

    private func image(_ h: Int, _ w: Int) -> [UInt8] { (0..<(h * w)).map { UInt8(($0 * 37 + 11) % 256) } }

    private func run(_ settings: ContrastiveAugmentation.Settings, _ pixels: [UInt8], _ h: Int, _ w: Int, seed: UInt64) -> [Float] {
        var rng = RandomGenerator(seed: seed)
        var out = [Float](repeating: 0, count: h * w)
        pixels.withUnsafeBufferPointer { src in out.withUnsafeMutableBufferPointer { dst in
            ContrastiveAugmentation(settings: settings).augment(src.baseAddress!, height: h, width: w, into: dst.baseAddress!, rng: &rng)
        } }
        return out
    }

    private func normalized(_ p: UInt8, _ s: ContrastiveAugmentation.Settings) -> Float { (Float(p) / 255 - s.mean[0]) / s.std[0] }

    func testIdentitySettingsOnlyNormalise() {
        let pixels = image(28, 28)
        let out = run(identity, pixels, 28, 28, seed: 1)
        assertClose(out, pixels.map { normalized($0, identity) }, rtol: 1e-6, atol: 1e-6)
    }

    func testFlipMirrorsEachRow() {
        var s = identity
        s.flipProbability = 1
        let pixels = image(6, 6)
        let out = run(s, pixels, 6, 6, seed: 1)
        for y in 0..<6 { for x in 0..<6 { XCTAssertEqual(out[y * 6 + x], normalized(pixels[y * 6 + 5 - x], s), accuracy: 1e-6) } }
    }

    /// Crops keep their area and ratio within the configured ranges (up to rounding to whole
    /// pixels) and lie inside the image.
    func testCropsRespectScaleAndRatio() {
        let aug = ContrastiveAugmentation(settings: .init())
        var rng = RandomGenerator(seed: 7)
        var areas: [Float] = []
        for _ in 0..<2000 {
            let c = aug.drawCrop(height: 28, width: 28, rng: &rng)
            XCTAssertTrue(c.y >= 0 && c.x >= 0 && c.y + c.height <= 28 && c.x + c.width <= 28, "\(c)")
            let area = Float(c.height * c.width) / 784
            areas.append(area)
            XCTAssertGreaterThanOrEqual(area, 0.2 * 0.8)
            let ratio = Float(c.width) / Float(c.height)
            XCTAssertTrue(ratio >= 0.75 * 0.85 && ratio <= 4.0 / 3.0 * 1.15, "ratio \(ratio)")
        }
        // Uniform in [0.2, 1]: the mean area is about 0.6, and both ends occur.
        XCTAssertEqual(areas.reduce(0, +) / Float(areas.count), 0.6, accuracy: 0.05)
        XCTAssertLessThan(areas.min()!, 0.3)
        XCTAssertGreaterThan(areas.max()!, 0.9)
    }

    /// A constant image stays constant under crop, blur and flip; contrast leaves it alone
    /// and brightness scales it.
    func testConstantImageUnderEveryTransform() {
        var s = ContrastiveAugmentation.Settings()
        s.jitterProbability = 0
        s.blurProbability = 1
        s.flipProbability = 0.5
        let pixels = [UInt8](repeating: 100, count: 28 * 28)
        for seed in 0..<5 {
            let out = run(s, pixels, 28, 28, seed: UInt64(seed))
            for v in out { XCTAssertEqual(v, normalized(100, s), accuracy: 1e-5) }
        }
        var jitter = identity
        jitter.jitterProbability = 1
        let out = run(jitter, pixels, 28, 28, seed: 3)
        let values = Set(out.map { ($0 * 1e4).rounded() })
        XCTAssertEqual(values.count, 1, "a constant image stays constant")
        XCTAssertNotEqual(out[0], normalized(100, s), accuracy: 1e-4, "brightness factor 1 ± 0.4 moved it")
    }

    /// The blur keeps the total of an interior point and spreads it symmetrically.
    func testBlurIsANormalisedSymmetricKernel() {
        var s = identity
        s.blurProbability = 1
        s.blurSigma = 1...1
        s.mean = [0]
        s.std = [1]
        var pixels = [UInt8](repeating: 0, count: 11 * 11)
        pixels[5 * 11 + 5] = 255
        let out = run(s, pixels, 11, 11, seed: 1)
        XCTAssertEqual(out.reduce(0, +), 1, accuracy: 1e-5)
        XCTAssertEqual(out[5 * 11 + 4], out[5 * 11 + 6], accuracy: 1e-7)
        XCTAssertEqual(out[4 * 11 + 5], out[6 * 11 + 5], accuracy: 1e-7)
        XCTAssertLessThan(out[5 * 11 + 5], 0.5)
        XCTAssertGreaterThan(out[5 * 11 + 5], out[5 * 11 + 6])
    }

    /// The same seed gives the same view; two draws give two different views of one image.
    func testViewsAreReproducibleAndDiffer() {
        let pixels = image(28, 28)
        XCTAssertEqual(run(.init(), pixels, 28, 28, seed: 9), run(.init(), pixels, 28, 28, seed: 9))
        var rng = RandomGenerator(seed: 9)
        var q = [Float](repeating: 0, count: 784), k = q
        let aug = ContrastiveAugmentation(settings: .init())
        pixels.withUnsafeBufferPointer { src in
            q.withUnsafeMutableBufferPointer { aug.augment(src.baseAddress!, height: 28, width: 28, into: $0.baseAddress!, rng: &rng) }
            k.withUnsafeMutableBufferPointer { aug.augment(src.baseAddress!, height: 28, width: 28, into: $0.baseAddress!, rng: &rng) }
        }
        XCTAssertNotEqual(q, k)
    }

    /// Half-pixel bilinear resize: the left half of a two-column image blown up to four
    /// columns is constant; an upscaled gradient stays monotone.
    func testResizedCropInterpolatesBilinearly() {
        var s = identity
        s.cropScale = 0.5...0.5
        s.cropRatio = 0.5...0.5
        s.mean = [0]
        s.std = [1]
        // 2×2 image: a crop of area 2 with ratio 1/2 is one column wide, two rows high.
        let out = run(s, [0, 255, 0, 255], 2, 2, seed: 4)
        XCTAssertTrue(out.allSatisfy { $0 == 0 } || out.allSatisfy { $0 == 1 }, "\(out)")
    }

    /// The resize samples at half-pixel centres, clamped at the border (PyTorch's bilinear
    /// with `align_corners=False`): columns 0–1 of [0, 85, 170, 255] blown up to four.
    func testResizeUsesHalfPixelCentres() {
        let aug = ContrastiveAugmentation(settings: identity)
        let source: [UInt8] = [0, 85, 170, 255]
        var out = [Float](repeating: 0, count: 4)
        source.withUnsafeBufferPointer { src in out.withUnsafeMutableBufferPointer { dst in
            aug.resizedCrop(src.baseAddress!, height: 1, width: 4, crop: .init(y: 0, x: 0, height: 1, width: 2), into: dst.baseAddress!)
        } }
        assertClose(out, [0, 21.25 / 255, 63.75 / 255, 85.0 / 255], rtol: 1e-6, atol: 1e-7)
    }
}
