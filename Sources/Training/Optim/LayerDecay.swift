import Foundation

/// Layer-wise learning-rate decay for a ViT, as MAE's fine-tuning (`util/lr_decay.py`)
/// defines it: with L = depth + 1, the class token, position table and patch embedding are
/// layer 0, `blocks.i` is layer i + 1, everything after the blocks (norm, head) layer L; a
/// parameter of layer l trains at decay^(L − l) times the learning rate.
public enum LayerDecay {
    /// The learning-rate multiplier of the parameter `name` in a ViT of `depth` blocks.
    public static func scale(of name: String, depth: Int, decay: Double) -> Float {
        let layers = depth + 1
        return Float(pow(decay, Double(layers - layer(of: name, depth: depth))))
    }

    /// The layer id MAE's `get_layer_id_for_vit` gives `name`.
    static func layer(of name: String, depth: Int) -> Int {
        if name == "cls_token" || name == "pos_embed" || name.hasPrefix("patch_embed.") { return 0 }
        if name.hasPrefix("blocks."), let i = Int(name.dropFirst("blocks.".count).prefix { $0 != "." }) { return i + 1 }
        return depth + 1
    }
}
