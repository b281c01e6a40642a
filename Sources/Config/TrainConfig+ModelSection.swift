import Engine
import Foundation

extension TrainConfig {
    /// `model:` section.
    public struct ModelSection: Equatable, Sendable {
        /// `model.name`.
        public var name: ModelName = .resnet20
        /// `model.width`: channels of the first stage of resnet20/32/56 (the stages have width,
        /// 2·width and 4·width; the trunk's features are 4·width wide). 16 is the original
        /// network; unused by the other models.
        public var width = ModelSection.originalWidth
        /// `model.num_classes`: width of the classifier output (≥ 2).
        public var numClasses = 10
        /// `model.mlp_hidden`: hidden layer widths, used only when `name` is `mlp`.
        public var mlpHidden = [1024, 1024]
        /// `model.dropout`: dropout after each hidden layer of the MLP, in [0, 1) (ResNets have none).
        public var dropout = 0.0
        /// `model.patch_size`: side of the ViT's square patches (must divide the image size).
        public var patchSize = 4
        /// `model.dim`: the ViT's token width (`embed_dim`).
        public var dim = 96
        /// `model.depth`: number of ViT blocks.
        public var depth = 6
        /// `model.heads`: attention heads per ViT block (must divide `dim`).
        public var heads = 4
        /// `model.mlp_ratio`: width of each ViT block's MLP as a multiple of `dim`.
        public var mlpRatio = 2.0
        /// `model.pooling`: what the ViT's head reads — the class token, or the mean of the patch tokens.
        public var pooling = VisionTransformer.Pooling.token
        /// `model.drop_path`: the ViT's stochastic-depth rate (timm's `drop_path_rate`): block i
        /// drops each residual branch of an image with probability rate · i / (depth − 1).
        public var dropPath = 0.0
        /// `model.pos_embed`: the ViT's position embedding — learned, or MAE's fixed sin-cos table.
        public var posEmbed = VisionTransformer.Positions.learned
        /// Keys only the ViT reads: left out of the config hash for the other models, so their
        /// checkpoints match as before these keys existed.
        public static let vitKeys: Set<String> = ["model.patch_size", "model.dim", "model.depth", "model.heads",
                                                   "model.mlp_ratio", "model.pooling", "model.drop_path", "model.pos_embed"]
        /// Keys left out of the config hash while they have their defaults (ViT configs written
        /// before they existed keep their hash).
        public static let hashedWhenSet: [String: (ModelSection) -> Bool] = [
            "model.drop_path": { $0.dropPath != 0 }, "model.pos_embed": { $0.posEmbed != .learned },
        ]
        /// The original ResNets' first-stage width.
        public static let originalWidth = 16
        /// Defaults.
        public init() {}

        /// The model's name for logs, with its width where that is not the original's:
        /// `resnet20`, `resnet20 (width 24)`.
        public var displayName: String {
            if name == .vit {
                return "vit (patch \(patchSize), dim \(dim), depth \(depth), heads \(heads), MLP ×\(mlpRatio.formatted()), \(pooling.rawValue) pooling"
                + (dropPath > 0 ? ", drop-path \(dropPath.formatted())" : "") + (posEmbed == .sincos ? ", sin-cos positions" : "") + ")"
            }
            return name.cifarDepth == nil || width == Self.originalWidth ? name.rawValue : "\(name.rawValue) (width \(width))"
        }
    }

    /// Valid `model.name` values.
    public enum ModelName: String, CaseIterable, Sendable {
        case resnet20, resnet32, resnet56, resnet18, resnet50, mlp, vit

        /// The depth of a CIFAR-style ResNet (6n + 2 layers: the trunks MoCo can use), else nil.
        public var cifarDepth: Int? {
            switch self {
            case .resnet20: return 20
            case .resnet32: return 32
            case .resnet56: return 56
            case .resnet18, .resnet50, .mlp, .vit: return nil
            }
        }
    }
}
