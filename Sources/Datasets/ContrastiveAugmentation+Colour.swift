import Engine

/// Colour jitter and grayscale for RGB views, as torchvision's `ColorJitter` and
/// `RandomGrayscale` compute them on float images in [0, 1]. image: [3, height, width]
extension ContrastiveAugmentation {
    /// Brightness, contrast, saturation and hue factors drawn, then applied in a random order
    /// (torchvision draws the order first; the distribution is the same).
    func jitterColour(_ image: UnsafeMutablePointer<Float>, plane: Int, rng: inout RandomGenerator) {
        let b = 1 + settings.brightness * (2 * rng.uniform() - 1)
        let c = 1 + settings.contrast * (2 * rng.uniform() - 1)
        let s = 1 + settings.saturation * (2 * rng.uniform() - 1)
        let h = settings.hue * (2 * rng.uniform() - 1)
        var order = [0, 1, 2, 3]
        for i in stride(from: 3, to: 0, by: -1) { order.swapAt(i, rng.int(below: i + 1)) }
        for op in order {
            switch op {
            case 0: scaleBrightness(image, 3 * plane, by: b)
            case 1: scaleContrast(image, channels: 3, plane: plane, by: c)
            case 2: scaleSaturation(image, plane: plane, by: s)
            default: shiftHue(image, plane: plane, by: h)
            }
        }
    }

    /// Every channel set to the luma 0.299 R + 0.587 G + 0.114 B.
    func makeGray(_ image: UnsafeMutablePointer<Float>, plane: Int) {
        let (r, g, b) = (image, image + plane, image + 2 * plane)
        for i in 0..<plane {
            let y = 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i]
            (r[i], g[i], b[i]) = (y, y, y)
        }
    }

    /// Blends each pixel with its own luma (`adjust_saturation`): 0 gray, 1 unchanged.
    func scaleSaturation(_ image: UnsafeMutablePointer<Float>, plane: Int, by factor: Float) {
        let (r, g, b) = (image, image + plane, image + 2 * plane)
        for i in 0..<plane {
            let y = (1 - factor) * (0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i])
            r[i] = min(max(factor * r[i] + y, 0), 1)
            g[i] = min(max(factor * g[i] + y, 0), 1)
            b[i] = min(max(factor * b[i] + y, 0), 1)
        }
    }

    /// Turns every pixel's hue by `shift` of the colour wheel (`adjust_hue`: through HSV).
    func shiftHue(_ image: UnsafeMutablePointer<Float>, plane: Int, by shift: Float) {
        guard shift != 0 else { return }
        let (r, g, b) = (image, image + plane, image + 2 * plane)
        for i in 0..<plane {
            let high = max(r[i], g[i], b[i]), low = min(r[i], g[i], b[i]), span = high - low
            guard span > 0 else { continue }   // gray: no hue to turn
            var hue: Float
            if high == r[i] { hue = (g[i] - b[i]) / span } else if high == g[i] { hue = 2 + (b[i] - r[i]) / span } else { hue = 4 + (r[i] - g[i]) / span }
            hue = hue / 6 + shift
            hue -= hue.rounded(.down)
            let saturation = span / high, value = high
            let sector = hue * 6, whole = min(Int(sector), 5), f = sector - Float(whole)
            let p = value * (1 - saturation), q = value * (1 - saturation * f), t = value * (1 - saturation * (1 - f))
            switch whole {
            case 0: (r[i], g[i], b[i]) = (value, t, p)
            case 1: (r[i], g[i], b[i]) = (q, value, p)
            case 2: (r[i], g[i], b[i]) = (p, value, t)
            case 3: (r[i], g[i], b[i]) = (p, q, value)
            case 4: (r[i], g[i], b[i]) = (t, p, value)
            default: (r[i], g[i], b[i]) = (value, p, q)
            }
        }
    }
}
