import Engine
import Foundation

/// MoCo v2's augmentation: random resized crop (bilinear), colour jitter, random grayscale
/// (RGB), Gaussian blur and horizontal flip — each with its own probability — then
/// normalisation, the same geometry for every channel of an image. Two independent draws give
/// an image's two views.
///
/// The order and the crop's sampling follow torchvision as MoCo v2 uses it
/// (`RandomResizedCrop`, `RandomApply(ColorJitter)`, `RandomGrayscale`,
/// `RandomApply(GaussianBlur)`, `RandomHorizontalFlip`). Colour jitter on a gray image is
/// brightness and contrast in a random order; on RGB it is brightness, contrast, saturation and
/// hue in a random order (`ContrastiveAugmentation+Colour`), each result clamped to [0, 1].
/// The blur reflects at the border. Pixel values end as `(v − mean[c]) / std[c]`.
///
/// ```swift
/// let views = ContrastiveAugmentation(settings: .init())
/// views.augment(image, height: 28, width: 28, into: query, rng: &rng)
/// views.augment(image, height: 28, width: 28, into: key, rng: &rng)
/// ```
public struct ContrastiveAugmentation: Sendable {
    /// What the augmentation does; defaults suit Fashion-MNIST.
    public struct Settings: Equatable, Sendable {
        /// Crop area as a fraction of the image, drawn uniformly.
        public var cropScale: ClosedRange<Float> = 0.2...1
        /// Crop width / height, drawn log-uniformly.
        public var cropRatio: ClosedRange<Float> = 0.75...(4.0 / 3.0)
        /// Probability of a horizontal flip.
        public var flipProbability: Float = 0.5
        /// Probability that brightness and contrast are jittered.
        public var jitterProbability: Float = 0.8
        /// Brightness factor drawn from [1 − b, 1 + b].
        public var brightness: Float = 0.4
        /// Contrast factor drawn from [1 − c, 1 + c].
        public var contrast: Float = 0.4
        /// Saturation factor drawn from [1 − s, 1 + s] (RGB images).
        public var saturation: Float = 0.4
        /// Hue shift drawn from [−h, h] turns (RGB images; h ≤ 0.5).
        public var hue: Float = 0.1
        /// Probability that an RGB view is turned gray (after the jitter).
        public var grayscaleProbability: Float = 0.2
        /// Probability of a Gaussian blur.
        public var blurProbability: Float = 0.5
        /// Blur standard deviation in pixels, drawn uniformly.
        public var blurSigma: ClosedRange<Float> = 0.1...1.0
        /// Blur kernel radius in pixels (kernel 2r + 1).
        public var blurRadius: Int = 2
        /// Normalisation, per channel.
        public var mean: [Float] = [FashionMNIST.mean]
        public var std: [Float] = [FashionMNIST.std]

        public init() {}
    }

    /// A crop rectangle in the source image.
    public struct Crop: Equatable, Sendable {
        public var y: Int, x: Int, height: Int, width: Int
    }

    public let settings: Settings

    public init(settings: Settings) {
        precondition(settings.cropScale.lowerBound > 0 && settings.cropScale.upperBound <= 1, "crop scale \(settings.cropScale)")
        precondition(settings.cropRatio.lowerBound > 0, "crop ratio \(settings.cropRatio)")
        precondition(settings.blurRadius >= 0 && settings.blurSigma.lowerBound > 0, "blur radius \(settings.blurRadius), sigma \(settings.blurSigma)")
        precondition(!settings.mean.isEmpty && settings.mean.count == settings.std.count && settings.std.allSatisfy { $0 > 0 },
                     "mean \(settings.mean), std \(settings.std)")
        self.settings = settings
    }

    /// torchvision's `RandomResizedCrop.get_params`: up to ten draws of (area, ratio) whose
    /// rectangle fits, else a centre crop with the ratio clamped into range.
    public func drawCrop(height: Int, width: Int, rng: inout RandomGenerator) -> Crop {
        let area = Float(height * width)
        let logLow = log(settings.cropRatio.lowerBound), logHigh = log(settings.cropRatio.upperBound)
        for _ in 0..<10 {
            let target = area * uniform(settings.cropScale, &rng)
            let ratio = exp(logLow + (logHigh - logLow) * rng.uniform())
            let w = Int((target * ratio).squareRoot().rounded()), h = Int((target / ratio).squareRoot().rounded())
            if w > 0 && w <= width && h > 0 && h <= height {
                let y = rng.int(below: height - h + 1), x = rng.int(below: width - w + 1)
                return Crop(y: y, x: x, height: h, width: w)
            }
        }
        let inRatio = Float(width) / Float(height)
        var w = width, h = height
        if inRatio < settings.cropRatio.lowerBound {
            h = Int((Float(w) / settings.cropRatio.lowerBound).rounded())
        } else if inRatio > settings.cropRatio.upperBound {
            w = Int((Float(h) * settings.cropRatio.upperBound).rounded())
        }
        return Crop(y: (height - h) / 2, x: (width - w) / 2, height: h, width: w)
    }

    /// One view of a `channels × height × width` uint8 image into `destination`
    /// [channels, height, width].
    public func augment(_ source: UnsafePointer<UInt8>, channels: Int = 1, height: Int, width: Int,
                        into destination: UnsafeMutablePointer<Float>, rng: inout RandomGenerator) {
        let plane = height * width, n = channels * plane
        withUnsafeTemporaryAllocation(of: Float.self, capacity: n + plane) { scratch in
            let image = scratch.baseAddress!, spare = image + n   // image: [channels, height, width] in [0, 1]; spare: [height, width]
            let crop = drawCrop(height: height, width: width, rng: &rng)
            for c in 0..<channels {
                resizedCrop(source + c * plane, height: height, width: width, crop: crop, into: image + c * plane)
            }
            if channels == 3 {
                if rng.uniform() < settings.jitterProbability { jitterColour(image, plane: plane, rng: &rng) }
                if rng.uniform() < settings.grayscaleProbability { makeGray(image, plane: plane) }
            } else if rng.uniform() < settings.jitterProbability {
                let b = 1 + settings.brightness * (2 * rng.uniform() - 1)
                let c = 1 + settings.contrast * (2 * rng.uniform() - 1)
                if rng.uniform() < 0.5 {
                    scaleBrightness(image, n, by: b)
                    scaleContrast(image, channels: channels, plane: plane, by: c)
                } else {
                    scaleContrast(image, channels: channels, plane: plane, by: c)
                    scaleBrightness(image, n, by: b)
                }
            }
            if rng.uniform() < settings.blurProbability {
                let sigma = uniform(settings.blurSigma, &rng)
                for c in 0..<channels { blur(image + c * plane, height: height, width: width, sigma: sigma, spare: spare) }
            }
            let flip = rng.uniform() < settings.flipProbability
            for c in 0..<channels {
                let m = settings.mean[c % settings.mean.count], s = settings.std[c % settings.std.count]
                let scale = 1 / s, shift = -m / s
                for y in 0..<height {
                    let row = image + c * plane + y * width, out = destination + c * plane + y * width
                    for x in 0..<width { out[x] = row[flip ? width - 1 - x : x] * scale + shift }
                }
            }
        }
    }

    private func uniform(_ range: ClosedRange<Float>, _ rng: inout RandomGenerator) -> Float {
        range.lowerBound + (range.upperBound - range.lowerBound) * rng.uniform()
    }

    /// The crop resized to the full image, bilinear with half-pixel centres (PyTorch's
    /// `align_corners=False`), values scaled to [0, 1].
    func resizedCrop(_ source: UnsafePointer<UInt8>, height: Int, width: Int, crop: Crop,
                     into image: UnsafeMutablePointer<Float>) {
        let sy = Float(crop.height) / Float(height), sx = Float(crop.width) / Float(width)
        for y in 0..<height {
            let fy = min(max((Float(y) + 0.5) * sy - 0.5, 0), Float(crop.height - 1))
            let y0 = Int(fy), y1 = min(y0 + 1, crop.height - 1), wy = fy - Float(y0)
            let r0 = source + (crop.y + y0) * width + crop.x, r1 = source + (crop.y + y1) * width + crop.x
            for x in 0..<width {
                let fx = min(max((Float(x) + 0.5) * sx - 0.5, 0), Float(crop.width - 1))
                let x0 = Int(fx), x1 = min(x0 + 1, crop.width - 1), wx = fx - Float(x0)
                let top = Float(r0[x0]) * (1 - wx) + Float(r0[x1]) * wx
                let bottom = Float(r1[x0]) * (1 - wx) + Float(r1[x1]) * wx
                image[y * width + x] = (top * (1 - wy) + bottom * wy) / 255
            }
        }
    }

    func scaleBrightness(_ p: UnsafeMutablePointer<Float>, _ n: Int, by factor: Float) {
        for i in 0..<n { p[i] = min(max(p[i] * factor, 0), 1) }
    }

    /// Blends with the image's mean gray level (torchvision's `adjust_contrast`: the mean of
    /// the one channel, or of the luma 0.299 R + 0.587 G + 0.114 B of an RGB image).
    func scaleContrast(_ p: UnsafeMutablePointer<Float>, channels: Int, plane: Int, by factor: Float) {
        let weights: [Float] = channels == 3 ? [0.299, 0.587, 0.114] : [Float](repeating: 1 / Float(channels), count: channels)
        var mean: Float = 0
        for c in 0..<channels {
            var sum: Float = 0
            for i in 0..<plane { sum += p[c * plane + i] }
            mean += weights[c] * sum
        }
        mean /= Float(plane)
        for i in 0..<(channels * plane) { p[i] = min(max(factor * p[i] + (1 - factor) * mean, 0), 1) }
    }

    /// Separable Gaussian blur, reflecting at the border. image: [height, width]
    func blur(_ image: UnsafeMutablePointer<Float>, height: Int, width: Int, sigma: Float, spare: UnsafeMutablePointer<Float>) {
        let r = settings.blurRadius
        guard r > 0 else { return }
        var kernel = (-r...r).map { exp(-Float($0 * $0) / (2 * sigma * sigma)) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        func reflect(_ i: Int, _ n: Int) -> Int {
            guard n > 1 else { return 0 }
            var i = i
            while i < 0 || i >= n { i = i < 0 ? -i : 2 * (n - 1) - i }
            return i
        }
        for y in 0..<height {   // rows into spare
            for x in 0..<width {
                var v: Float = 0
                for t in -r...r { v += kernel[t + r] * image[y * width + reflect(x + t, width)] }
                spare[y * width + x] = v
            }
        }
        for y in 0..<height {   // columns back into image
            for x in 0..<width {
                var v: Float = 0
                for t in -r...r { v += kernel[t + r] * spare[reflect(y + t, height) * width + x] }
                image[y * width + x] = v
            }
        }
    }
}
