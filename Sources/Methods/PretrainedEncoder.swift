import Config
import Datasets
import Engine
import Persistence
import Training

/// The trunk a pre-training run trained, taken out of its checkpoint under the network's
/// own names (timm's for a ViT, torchvision's for a ResNet) without the pre-training head:
/// what `concord export --encoder` writes and `concord finetune` starts from.
///
/// The checkpoint says which method wrote it (its `config.yaml`): MAE's encoder is `model.*`
/// without the decoder, MoCo v3's `model.base_encoder.*`, MoCo v2's `model.encoder_q.*`,
/// SimCLR's and a supervised run's `model.*`; the projector or classifier (`head.*`, `fc.*`)
/// is left out.
public enum PretrainedEncoder {
    /// The configuration of the run that wrote `checkpoint` (its `config.yaml`).
    /// - Throws: `CheckpointError` when the checkpoint holds none.
    public static func config(of checkpoint: CheckpointFile) throws -> TrainConfig {
        guard let bytes = try? checkpoint.bytes("config.yaml") else {
            throw CheckpointError(checkpoint.source, "holds no config.yaml, so which network it trained is unknown; pass a checkpoint written by concord train")
        }
        return try ConfigLoader.parse(yaml: String(decoding: bytes, as: UTF8.self), source: checkpoint.source + " (config.yaml)")
    }

    /// The images the run that wrote `checkpoint` trained on (its `image_shape` metadata;
    /// Fashion-MNIST's in checkpoints from before other data sets).
    public static func imageShape(of checkpoint: CheckpointFile) -> ImageShape {
        checkpoint.metadata["image_shape"].flatMap(ImageShape.init) ?? .fashionMNIST
    }

    /// The encoder's tensors (parameters and buffers) from `checkpoint`.
    /// - Throws: `CheckpointError` when the checkpoint holds no config or no such encoder.
    public static func tensors(from checkpoint: CheckpointFile) throws -> [String: Tensor] {
        let config = try Self.config(of: checkpoint)
        var rng = RandomGenerator(seed: 0)
        let (encoder, prefix) = try MethodRegistry.probedEncoder(config, input: imageShape(of: checkpoint), rng: &rng)
        let names = (encoder.namedParameters() + encoder.namedBuffers()).map(\.0).filter { !isHead($0) }
        let stored = checkpoint.tensors(prefix: prefix)
        var found: [String: Tensor] = [:]
        for name in names { if let t = stored[name] { found[name] = t } }
        guard found.count == names.count else {
            let missing = names.filter { found[$0] == nil }
            throw CheckpointError(checkpoint.source, "lacks its \(config.train.method.rawValue) encoder's \(missing.prefix(3).joined(separator: ", ")) (\(prefix)*); the file does not match its own config.yaml")
        }
        return found
    }

    /// Whether `name` belongs to a head that fine-tuning replaces: a ViT's `head`, a
    /// ResNet's `fc` (projectors included).
    public static func isHead(_ name: String) -> Bool { name.hasPrefix("head.") || name.hasPrefix("fc.") }

    /// Copies `encoder` into the like-named tensors of `targets` (a freshly built model to
    /// fine-tune or probe): every encoder tensor must fit one of the targets with its shape, and
    /// every target must come from the encoder except a head (`isHead`) and a `fc_norm` — a
    /// model deeper or otherwise larger than the encoder is refused rather than left partly
    /// untrained. The targets left keep their initialisation; they are returned, for the log.
    /// - Throws: `TrainingError` naming the first mismatches.
    public static func load(_ encoder: [String: Tensor], into targets: [(String, Tensor)], source: String) throws -> [String] {
        let byName = Dictionary(uniqueKeysWithValues: targets.map { ($0.0, $0.1) })
        var problems: [String] = []
        for (name, t) in encoder.sorted(by: { $0.key < $1.key }) {
            guard let target = byName[name] else {
                if name.hasPrefix("norm.") && byName["fc_norm.weight"] != nil { continue }   // mean pooling: MAE's fine-tuning drops norm
                problems.append("'\(name)' has no place in the model"); continue
            }
            if target.shape != t.shape { problems.append("'\(name)' is \(t.shape), the model's \(target.shape)") }
        }
        for (name, _) in targets where encoder[name] == nil && !isHead(name) && !name.hasPrefix("fc_norm.") {
            problems.append("the model's '\(name)' is not in the encoder")
        }
        guard problems.isEmpty else {
            throw TrainingError("\(source): its encoder does not fit this config's model: " + problems.prefix(4).joined(separator: "; ")
                                + (problems.count > 4 ? " (and \(problems.count - 4) more)" : "") + "; use the model keys the encoder was pre-trained with")
        }
        for (name, t) in encoder { byName[name]?.assign(t) }
        return targets.map(\.0).filter { encoder[$0] == nil }
    }
}
