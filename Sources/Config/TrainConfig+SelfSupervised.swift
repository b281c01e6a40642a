extension TrainConfig {
    /// `views:` section: the two augmented views of every image that SimCLR and MoCo v3 compare,
    /// each rank drawing from its own stream. (MoCo v2 keeps the same keys under `moco:`, where
    /// its configs have always had them.)
    public struct ViewsSection: Equatable, Sendable {
        /// `views.crop_min_scale`: smallest crop area of the random resized crop, in (0, 1].
        public var cropMinScale = 0.2
        /// `views.flip_p`: probability of a horizontal flip, in [0, 1].
        public var flipP = 0.5
        /// `views.jitter_p`: probability of brightness / contrast jitter, in [0, 1].
        public var jitterP = 0.8
        /// `views.brightness`: brightness factor drawn from [1 − b, 1 + b] (b in [0, 1)).
        public var brightness = 0.4
        /// `views.contrast`: contrast factor drawn from [1 − c, 1 + c] (c in [0, 1)).
        public var contrast = 0.4
        /// `views.saturation`: saturation factor drawn from [1 − s, 1 + s] (s in [0, 1)); RGB
        /// images only, jittered with brightness and contrast.
        public var saturation = 0.4
        /// `views.hue`: hue shift drawn from [−h, h] turns of the colour wheel (h in [0, 0.5]); RGB only.
        public var hue = 0.1
        /// `views.grayscale_p`: probability that a view is turned gray (RGB only), in [0, 1].
        public var grayscaleP = 0.2
        /// Keys (after the section's name) left out of the config hash at their defaults, so
        /// configs written before they existed keep their hash.
        public static let hashedWhenSet: [String: (ViewsSection) -> Bool] = [
            "saturation": { $0.saturation != 0.4 }, "hue": { $0.hue != 0.1 }, "grayscale_p": { $0.grayscaleP != 0.2 },
        ]
        /// `views.blur_p`: probability of a Gaussian blur, in [0, 1].
        public var blurP = 0.5
        /// `views.blur_sigma_max`: blur standard deviations are drawn from [0.1, this] pixels (≥ 0.1).
        public var blurSigmaMax = 1.0
        /// Defaults.
        public init() {}
    }

    /// `knn:` section: the weighted kNN monitor of SimCLR and MoCo v3 pre-training (the test
    /// set classified by its nearest training images in the trunk's features). It never
    /// changes what is trained.
    public struct KNNSection: Equatable, Sendable {
        /// `knn.k`: neighbours (≥ 1).
        public var k = 200
        /// `knn.temperature`: the similarity temperature of the neighbours' weights (> 0).
        public var temperature = 0.1
        /// `knn.every`: kNN accuracy on the test set every this many epochs and after the last
        /// (≥ 0; 0 never).
        public var every = 1
        /// Defaults.
        public init() {}
    }

    /// `simclr:` section: SimCLR pre-training (used when `train.method` is `simclr`).
    public struct SimCLRSection: Equatable, Sendable {
        /// `simclr.dim`: width of the normalised embedding NT-Xent compares (≥ 1).
        public var dim = 128
        /// `simclr.head_hidden`: width of the projector's hidden layer (`fc.0`, ≥ 1).
        public var headHidden = 64
        /// `simclr.temperature`: NT-Xent's temperature (> 0).
        public var temperature = 0.5
        /// `simclr.batch_norm`: `sync` — the encoder's batch statistics span every rank's
        /// batch, as SimCLR's global BN (and N ranks train exactly like one process); `local`
        /// — each rank's own.
        public var batchNorm: ReplicaBatchNorm = .sync
        /// Defaults.
        public init() {}
    }

    /// `mocov3:` section: MoCo v3 pre-training (used when `train.method` is `mocov3`).
    public struct MoCoV3Section: Equatable, Sendable {
        /// `mocov3.dim`: width of the projector's and predictor's output (≥ 1).
        public var dim = 128
        /// `mocov3.mlp_dim`: hidden width of the projector and predictor MLPs (≥ 1).
        public var mlpDim = 512
        /// `mocov3.temperature`: the contrastive softmax temperature (> 0).
        public var temperature = 0.2
        /// `mocov3.momentum`: the momentum encoder's EMA momentum m (in [0, 1]); with a
        /// `cosine` schedule, where it starts.
        public var momentum = 0.99
        /// `mocov3.momentum_schedule`: constant m, or a cosine rise from m to 1 (moco-v3's default).
        public var momentumSchedule: MomentumSchedule = .cosine
        /// `mocov3.batch_norm`: `sync` — the projector's and predictor's (and a ResNet
        /// trunk's) batch statistics span every rank's batch, as moco-v3 whenever it runs
        /// distributed; `local` — each rank's own.
        public var batchNorm: ReplicaBatchNorm = .sync
        /// `mocov3.freeze_patch_embed`: keep a ViT's random patch projection fixed (moco-v3's
        /// stability trick, `stop_grad_conv1`).
        public var freezePatchEmbed = false
        /// Defaults.
        public init() {}
    }

    /// `mae:` section: masked-autoencoder pre-training of a ViT (used when `train.method` is `mae`).
    public struct MAESection: Equatable, Sendable {
        /// `mae.mask_ratio`: the share of each image's patches removed, in (0, 1).
        public var maskRatio = 0.75
        /// `mae.decoder_dim`: the decoder's token width (≥ 1; a multiple of 4 for its sin-cos table).
        public var decoderDim = 64
        /// `mae.decoder_depth`: decoder blocks (≥ 1).
        public var decoderDepth = 2
        /// `mae.decoder_heads`: attention heads per decoder block (must divide `decoder_dim`).
        public var decoderHeads = 4
        /// `mae.norm_pix_loss`: the loss compares each patch normalised by its own mean and
        /// variance (MAE's better-representation setting).
        public var normPixLoss = true
        /// `mae.eval_every`: the reconstruction loss on the test set and the picture of
        /// reconstructions every this many epochs and after the last (≥ 0; 0 never).
        public var evalEvery = 1
        /// `mae.grid_images`: test images in the picture of reconstructions (1 to 64).
        public var gridImages = 8
        /// Defaults.
        public init() {}
    }

    /// Valid `simclr.batch_norm` (and `mocov3.batch_norm`) values.
    public enum ReplicaBatchNorm: String, CaseIterable, Sendable {
        /// Statistics over every rank's batch (SyncBatchNorm).
        case sync
        /// Each rank's own batch statistics.
        case local
    }
}
