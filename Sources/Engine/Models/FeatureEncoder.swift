/// A network whose trunk features are what a linear probe or a kNN monitor reads: the pooled
/// output before the head (ResNet: before `fc`; ViT: the class token after `norm`, or the mean
/// of the patch tokens after `fc_norm`).
public protocol FeatureEncoder: Module {
    /// Trunk features [N, D] of images [N, C, H, W].
    func features(_ images: Tensor) -> Tensor
}

extension ResNet: FeatureEncoder {}
extension VisionTransformer: FeatureEncoder {}
