@testable import Datasets
import Engine
import TestSupport
import XCTest

/// RGB colour jitter against torchvision 0.29's `adjust_saturation`, `adjust_hue` and
/// `rgb_to_grayscale` on one 3×2×3 float image (values printed by torchvision).
final class ContrastiveAugmentationColourTests: XCTestCase {
    static let image: [Float] = [0.9, 0.2, 0.5, 0.1, 0.6, 0.33, 0.3, 0.8, 0.5, 0.7, 0.1, 0.9, 0.1, 0.4, 0.5, 0.95, 0.5, 0.2]
    private let augmentation = ContrastiveAugmentation(settings: .init())

    private func applied(_ body: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
        var pixels = Self.image
        pixels.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
        return pixels
    }

    // torchvision weighs luma 0.2989 R, PIL (and this) 0.299: ≤ 1e-4 apart.
    func testSaturationMatchesTorchvision() {
        assertClose(applied { augmentation.scaleSaturation($0, plane: 6, by: 0.3) },
                    [0.58956, 0.46249, 0.49997, 0.41436, 0.38653, 0.55382, 0.40956, 0.64249, 0.49997, 0.59436, 0.23653, 0.72482,
                     0.34956, 0.52249, 0.49997, 0.66936, 0.35653, 0.51482], rtol: 0, atol: 2e-4)
        assertClose(applied { augmentation.scaleSaturation($0, plane: 6, by: 1.7) },
                    [1.0, 0.0, 0.50004, 0.0, 0.81347, 0.10618, 0.19044, 0.95751, 0.50004, 0.80564, 0.0, 1.0,
                     0.0, 0.27751, 0.50004, 1.0, 0.64347, 0.0], rtol: 0, atol: 2e-4)
    }

    func testHueMatchesTorchvision() {
        assertClose(applied { augmentation.shiftHue($0, plane: 6, by: 0.2) },
                    [0.54, 0.2, 0.5, 0.52, 0.6, 0.2, 0.9, 0.48, 0.5, 0.1, 0.3, 0.89, 0.1, 0.8, 0.5, 0.95, 0.1, 0.9], rtol: 0, atol: 1e-5)
        assertClose(applied { augmentation.shiftHue($0, plane: 6, by: -0.35) },
                    [0.22, 0.8, 0.5, 0.785, 0.1, 0.9, 0.1, 0.34, 0.5, 0.95, 0.55, 0.2, 0.9, 0.2, 0.5, 0.1, 0.6, 0.4], rtol: 0, atol: 1e-5)
    }

    func testGrayscaleMatchesTorchvision() {
        let gray: [Float] = [0.45651, 0.57498, 0.49995, 0.54909, 0.29504, 0.64974]
        assertClose(applied { augmentation.makeGray($0, plane: 6) }, gray + gray + gray, rtol: 0, atol: 2e-4)
    }

    /// A gray image's views do not depend on the RGB-only settings: the same draws as before
    /// they existed, so gray runs train as they did.
    func testGrayViewsIgnoreTheColourSettings() {
        let pixels = (0..<64).map { UInt8($0 * 3) }
        var plain = ContrastiveAugmentation.Settings(), coloured = plain
        (plain.saturation, plain.hue, plain.grayscaleProbability) = (0, 0, 0)
        (coloured.saturation, coloured.hue, coloured.grayscaleProbability) = (0.9, 0.5, 1)
        func view(_ settings: ContrastiveAugmentation.Settings, channels: Int) -> [Float] {   // 1×8×8
            var rng = RandomGenerator(seed: 7)
            var out = [Float](repeating: 0, count: pixels.count)
            pixels.withUnsafeBufferPointer { src in out.withUnsafeMutableBufferPointer { dst in
                ContrastiveAugmentation(settings: settings).augment(src.baseAddress!, channels: channels, height: 8, width: 8,
                                                                    into: dst.baseAddress!, rng: &rng)
            } }
            return out
        }
        XCTAssertEqual(view(plain, channels: 1), view(coloured, channels: 1))
        XCTAssertNotEqual(view(plain, channels: 1), [Float](repeating: 0, count: 64))
    }

    /// On RGB, grayscale with probability 1 leaves every pixel's three channels equal.
    func testAnRGBViewTurnedGrayHasEqualChannels() {
        var settings = ContrastiveAugmentation.Settings()
        (settings.grayscaleProbability, settings.mean, settings.std) = (1, [0.5], [0.25])
        let pixels = (0..<(3 * 16)).map { UInt8(($0 * 53) % 256) }
        var rng = RandomGenerator(seed: 3)
        var out = [Float](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in out.withUnsafeMutableBufferPointer { dst in
            ContrastiveAugmentation(settings: settings).augment(src.baseAddress!, channels: 3, height: 4, width: 4, into: dst.baseAddress!, rng: &rng)
        } }
        for i in 0..<16 { XCTAssertEqual(out[i], out[16 + i]); XCTAssertEqual(out[i], out[32 + i]) }
    }
}
