import Config
import Datasets

extension ContrastiveAugmentation.Settings {
    /// The two-view augmentation a `views:` section (or MoCo v2's `moco:` keys) describes, for
    /// the images of `data` (normalised as it is; Fashion-MNIST's when nil): random resized crop,
    /// colour jitter (brightness and contrast; saturation and hue too on RGB), random grayscale (RGB),
    /// Gaussian blur, horizontal flip.
    init(_ views: TrainConfig.ViewsSection, data: ImageDataset?) {
        self.init()
        if let data { (mean, std) = (data.mean, data.std) }
        cropScale = Float(views.cropMinScale)...1
        flipProbability = Float(views.flipP)
        jitterProbability = Float(views.jitterP)
        brightness = Float(views.brightness)
        contrast = Float(views.contrast)
        saturation = Float(views.saturation)
        hue = Float(views.hue)
        grayscaleProbability = Float(views.grayscaleP)
        blurProbability = Float(views.blurP)
        blurSigma = 0.1...Float(views.blurSigmaMax)
    }
}
