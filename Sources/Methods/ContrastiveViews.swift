import Config
import Datasets

extension ContrastiveAugmentation.Settings {
    /// The two-view augmentation a `views:` section (or MoCo v2's `moco:` keys) describes, for
    /// the images of `data` (normalised as it is; Fashion-MNIST's when nil): random resized crop,
    /// brightness / contrast jitter, Gaussian blur, horizontal flip.
    init(_ views: TrainConfig.ViewsSection, data: ImageDataset?) {
        self.init()
        if let data { (mean, std) = (data.mean, data.std) }
        cropScale = Float(views.cropMinScale)...1
        flipProbability = Float(views.flipP)
        jitterProbability = Float(views.jitterP)
        brightness = Float(views.brightness)
        contrast = Float(views.contrast)
        blurProbability = Float(views.blurP)
        blurSigma = 0.1...Float(views.blurSigmaMax)
    }
}
