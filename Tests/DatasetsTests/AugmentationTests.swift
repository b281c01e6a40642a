@testable import Datasets
import Engine
import TestSupport
import XCTest

final class AugmentationTests: XCTestCase {
    private let mean = 0.2860
    private let std = 0.3530

    /// The normalised value of a byte, computed in Double, independent of the table.
    private func norm(_ byte: Int) -> Float { Float((Double(byte) / 255 - mean) / std) }

    /// Pixels 10, 20, …, 160 row by row, so every value is distinct and non-zero.
    private let image4x4: [UInt8] = (1...16).map { UInt8($0 * 10) }

    /// Expected output written as a grid of the hand image's values 1…16 (× 10) and `P` for padding.
    private let P = -1
    private func expected(_ grid: [Int]) -> [Float] { grid.map { $0 == P ? norm(0) : norm($0 * 10) } }

    private func run(_ aug: Augmentation, _ image: [UInt8], h: Int, w: Int,
                     _ placement: Augmentation.Placement) -> [Float] {
        var out = [Float](repeating: .nan, count: h * w)
        image.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                aug.augment(src.baseAddress!, height: h, width: w, into: dst.baseAddress!, placement: placement)
            }
        }
        return out
    }

    // MARK: Hand-computed 4×4 cases (padding 2, offsets 0...4, 2 = centred)

    func testCentredWithoutFlipIsJustNormalisation() {
        let out = run(Augmentation(), image4x4, h: 4, w: 4, .init(flip: false, offsetY: 2, offsetX: 2))
        assertClose(out, expected([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]), rtol: 0, atol: 1e-6)
    }

    func testCentredFlipMirrorsEachRow() {
        let out = run(Augmentation(), image4x4, h: 4, w: 4, .init(flip: true, offsetY: 2, offsetX: 2))
        assertClose(out, expected([4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9, 16, 15, 14, 13]), rtol: 0, atol: 1e-6)
    }

    func testCropAtTopRightCorner() {
        // Crop window starts at padded (0, 4): output (y, x) = image (y − 2, x + 2).
        let out = run(Augmentation(), image4x4, h: 4, w: 4, .init(flip: false, offsetY: 0, offsetX: 4))
        assertClose(out, expected([P, P, P, P,
                                   P, P, P, P,
                                   3, 4, P, P,
                                   7, 8, P, P]), rtol: 0, atol: 1e-6)
    }

    func testCropAtBottomLeftCorner() {
        // Output (y, x) = image (y + 2, x − 2).
        let out = run(Augmentation(), image4x4, h: 4, w: 4, .init(flip: false, offsetY: 4, offsetX: 0))
        assertClose(out, expected([P, P, 9, 10,
                                   P, P, 13, 14,
                                   P, P, P, P,
                                   P, P, P, P]), rtol: 0, atol: 1e-6)
    }

    func testFlipThenCrop() {
        // Flip first (row r becomes image[r][3 − c]), then output (y, x) = flipped (y + 1, x − 1).
        let out = run(Augmentation(), image4x4, h: 4, w: 4, .init(flip: true, offsetY: 3, offsetX: 1))
        assertClose(out, expected([P, 8, 7, 6,
                                   P, 12, 11, 10,
                                   P, 16, 15, 14,
                                   P, P, P, P]), rtol: 0, atol: 1e-6)
    }

    func testPadValueIsNormalisedBlack() {
        let aug = Augmentation()
        XCTAssertEqual(aug.padValue, Float((0 - 0.2860) / 0.3530), accuracy: 1e-6)
        XCTAssertEqual(aug.padValue, -0.81019, accuracy: 1e-5)
    }

    // MARK: Random draws

    /// With a known generator state, the output is the hand-checkable placement the draws pick:
    /// `uniform() < 0.5` for the flip, then two `int(below: 5)` for the offsets.
    func testRandomPlacementFollowsTheDocumentedDraws() {
        var flips = 0
        var seenY = Set<Int>(), seenX = Set<Int>()
        let aug = Augmentation()
        for seed in 0..<400 as Range<UInt64> {
            var rng = RandomGenerator(seed: seed)
            var mirror = rng
            let flip = mirror.uniform() < 0.5
            let oy = mirror.int(below: 5)
            let ox = mirror.int(below: 5)
            var out = [Float](repeating: .nan, count: 16)
            image4x4.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    aug.augment(src.baseAddress!, height: 4, width: 4, into: dst.baseAddress!, rng: &rng)
                }
            }
            XCTAssertEqual(rng, mirror, "seed \(seed): exactly three draws per image")
            let want = reference(image4x4, h: 4, w: 4, padding: 2, flip: flip, oy: oy, ox: ox)
            assertClose(out, want, rtol: 0, atol: 1e-6, "seed \(seed)")
            flips += flip ? 1 : 0
            seenY.insert(oy)
            seenX.insert(ox)
        }
        XCTAssert((140...260).contains(flips), "flip rate \(flips)/400")
        XCTAssertEqual(seenY, Set(0...4))
        XCTAssertEqual(seenX, Set(0...4))
    }

    func testNoFlipWhenProbabilityIsZeroButDrawsStillHappen() {
        let aug = Augmentation(padding: 0, flipProbability: 0)
        var rng = RandomGenerator(seed: 5)
        var mirror = rng
        _ = mirror.uniform(); _ = mirror.int(below: 1); _ = mirror.int(below: 1)
        let placement = aug.drawPlacement(using: &rng)
        XCTAssertEqual(placement, .init(flip: false, offsetY: 0, offsetX: 0))
        XCTAssertEqual(rng, mirror)
    }

    // MARK: Against a pad-then-crop reference, every placement

    /// Literal pad-then-crop like the PyTorch reference: flip, build the padded image, slice.
    private func reference(_ image: [UInt8], h: Int, w: Int, padding p: Int,
                           flip: Bool, oy: Int, ox: Int) -> [Float] {
        let pw = w + 2 * p
        var padded = [Float](repeating: norm(0), count: (h + 2 * p) * pw)
        for r in 0..<h {
            for c in 0..<w {
                let source = flip ? image[r * w + (w - 1 - c)] : image[r * w + c]
                padded[(r + p) * pw + (c + p)] = norm(Int(source))
            }
        }
        var out: [Float] = []
        for y in 0..<h { for x in 0..<w { out.append(padded[(y + oy) * pw + (x + ox)]) } }
        return out
    }

    func testEveryPlacementOfANonSquareImage() {
        let (h, w) = (3, 5)
        let image: [UInt8] = (0..<(h * w)).map { UInt8(17 * $0 + 3) }
        for padding in [0, 1, 2, 6] {
            let aug = Augmentation(padding: padding)
            for flip in [false, true] {
                for oy in 0...(2 * padding) {
                    for ox in 0...(2 * padding) {
                        let out = run(aug, image, h: h, w: w, .init(flip: flip, offsetY: oy, offsetX: ox))
                        let want = reference(image, h: h, w: w, padding: padding, flip: flip, oy: oy, ox: ox)
                        assertClose(out, want, rtol: 0, atol: 1e-6, "P=\(padding) flip=\(flip) oy=\(oy) ox=\(ox)")
                    }
                }
            }
        }
    }

    func testNormalizeEveryByteValue() {
        let aug = Augmentation()
        let bytes = (0...255).map { UInt8($0) }
        var out = [Float](repeating: .nan, count: 256)
        bytes.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { aug.normalize(src.baseAddress!, planeSize: 256, into: $0.baseAddress!) }
        }
        assertClose(out, (0...255).map(norm), rtol: 0, atol: 1e-6)
        XCTAssertEqual(aug.normalized(255), norm(255), accuracy: 1e-6)
    }

    func testCustomNormalisation() {
        let aug = Augmentation(mean: [0.5], std: [0.25])
        XCTAssertEqual(aug.normalized(255), 2, accuracy: 1e-6)
        XCTAssertEqual(aug.padValue, -2, accuracy: 1e-6)
    }

    /// RGB: one placement for the three planes, each normalised with its own mean and std.
    func testChannelsShareThePlacementAndHaveTheirOwnNormalisation() {
        let mean: [Float] = [0.1, 0.5, 0.9], std: [Float] = [0.2, 0.3, 0.4]
        let aug = Augmentation(padding: 1, mean: mean, std: std)
        let (h, w) = (3, 4)
        let image = (0..<(3 * h * w)).map { UInt8($0 * 7) }   // [3, h, w]
        var out = [Float](repeating: .nan, count: image.count)
        var rng = RandomGenerator(seed: 3)
        let placement = { var copy = rng; return aug.drawPlacement(using: &copy) }()
        image.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { aug.augment(src.baseAddress!, channels: 3, height: h, width: w, into: $0.baseAddress!, rng: &rng) }
        }
        for c in 0..<3 {
            for y in 0..<h {
                for x in 0..<w {
                    let sy = y + placement.offsetY - 1, sxFlipped = x + placement.offsetX - 1
                    let inside = (0..<h).contains(sy) && (0..<w).contains(sxFlipped)
                    let sx = placement.flip ? w - 1 - sxFlipped : sxFlipped
                    let pixel: Float = inside ? Float(image[c * h * w + sy * w + sx]) / 255 : 0
                    XCTAssertEqual(out[c * h * w + y * w + x], (pixel - mean[c]) / std[c], accuracy: 1e-5, "c \(c) y \(y) x \(x)")
                }
            }
        }
    }
}
