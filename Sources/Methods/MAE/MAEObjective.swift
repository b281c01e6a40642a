import Config
import Datasets
import Engine
import Foundation
import MPI
import Persistence
import Training

/// `train.method: mae` — masked-autoencoder pre-training of a ViT (`model.name: vit`, the
/// `mae:` section).
public enum MAE: TrainingMethod {
    public static let name = TrainConfig.TrainMethod.mae

    public static func objective(_ context: MethodContext, rng: inout RandomGenerator) throws -> any TrainingObjective {
        try MAEObjective(context, rng: &rng)
    }

    /// The encoder (the ViT without head).
    public static func probedEncoder(_ config: TrainConfig, input: ImageShape, rng: inout RandomGenerator) throws -> (encoder: any FeatureEncoder, prefix: String) {
        (try MAEObjective.model(config, input: input, rng: &rng).encoder, "model.")
    }
}

/// MAE as a `Trainer` objective: `MAEModel`'s step with masks drawn by global sample
/// position. Its evaluation is the masked loss on the test set (fixed masks) and a picture of
/// reconstructions of the first `mae.grid_images` test images, `reconstructions.png` in the
/// run directory (rank 0): per image the original, what the encoder saw (removed patches
/// grey), the reconstruction, and the reconstruction with the visible patches pasted in.
final class MAEObjective: TrainingObjective {
    let model: MAEModel
    let world: Communicator
    let positions: SamplePositions
    let seed: UInt64
    let testSet: ImageDataset?
    let evaluationEvery: Int
    let gridImages: Int
    let runDirectory: String
    let vit: String

    init(_ context: MethodContext, rng: inout RandomGenerator) throws {
        let config = context.config
        model = try Self.model(config, input: context.input, rng: &rng)
        for network in [model.encoder, model.decoder] as [any Module] { network.replicate(over: context.world) }
        world = context.world
        positions = SamplePositions(rank: context.world.rank, replicas: context.world.size)
        seed = UInt64(config.train.seed)
        testSet = context.data?.test
        evaluationEvery = config.mae.evalEvery
        gridImages = config.mae.gridImages
        runDirectory = config.run.dir
        vit = config.model.displayName
    }

    /// The model `config` describes; its mistakes are `TrainingError`s naming the key.
    static func model(_ config: TrainConfig, input: ImageShape, rng: inout RandomGenerator) throws -> MAEModel {
        guard config.model.name == .vit else {
            throw TrainingError("train.method mae trains a ViT encoder; model.name \(config.model.name.rawValue) is not one: set it to vit")
        }
        let mae = config.mae
        guard mae.decoderDim % mae.decoderHeads == 0, mae.decoderDim % 4 == 0 else {
            throw TrainingError("mae.decoder_dim \(mae.decoderDim) must be a multiple of 4 (its sin-cos table) and of mae.decoder_heads \(mae.decoderHeads)")
        }
        guard config.train.accumulationSteps == 1 else {
            throw TrainingError("train.method mae draws each step's masks by the images' positions in the whole step and does not split a step: set train.accumulation_steps to 1")
        }
        guard config.model.posEmbed == .sincos else {
            throw TrainingError("train.method mae uses MAE's fixed sin-cos position tables; model.pos_embed \(config.model.posEmbed.rawValue) is not one: set it to sincos")
        }
        let shape = try ModelFactory.vitShape(config.model, input: input)
        guard !mae.normPixLoss || shape.patch * shape.patch * shape.channels > 1 else {
            throw TrainingError("mae.norm_pix_loss standardises each patch and needs more than one value per patch: set model.patch_size to 2 or more, or mae.norm_pix_loss to false")
        }
        guard Int(Double(shape.tokens) * (1 - mae.maskRatio)) >= 1 else {
            throw TrainingError("mae.mask_ratio \(mae.maskRatio) keeps no patch of the \(shape.tokens); lower it")
        }
        return MAEModel.make(shape, decoderDim: mae.decoderDim, decoderDepth: mae.decoderDepth, decoderHeads: mae.decoderHeads,
                             maskRatio: mae.maskRatio, normPixLoss: mae.normPixLoss, rng: &rng)
    }

    var parameters: [(String, Tensor)] { model.namedParameters }
    var buffers: [(String, Tensor)] { model.namedBuffers }
    var modules: [any Module] { [model.encoder, model.decoder] }
    var summary: String {
        "MAE, \(vit) encoder: \(parameters.reduce(0) { $0 + $1.1.count }) parameters with the decoder, keeping \(model.keep) of "
            + "\(model.encoder.shape.tokens) patches, norm_pix_loss \(model.normPixLoss)"
    }
    var accuracyName: String? { nil }

    func setTraining(_ training: Bool) {
        for network in modules { network.train(training) }
    }

    func forward(_ batch: Batch, iteration: Int) throws -> ForwardResult {
        let n = batch.images.shape[0]
        let noise = MAEModel.noise(seed: seed, key: UInt64(iteration), indices: (0..<n).map(positions.global), tokens: model.encoder.shape.tokens)
        return ForwardResult(loss: model.forward(batch.images, noise: noise).loss, correct: 0)
    }

    /// The masked loss on the test set, each test image with its own fixed mask; and the picture.
    func evaluate(batchSize: Int) throws -> [(String, Double)] {
        guard let testSet else { return [] }
        let testKey = UInt64.max
        var totals = [0.0, 0.0]   // loss sum, images
        Autograd.noGrad {
            let loader = BatchLoader.evaluation(dataset: testSet, rank: world.rank, worldSize: world.size, batchSize: batchSize)
            defer { loader.stop() }
            while let batch = loader.next() {
                let noise = MAEModel.noise(seed: seed, key: testKey, indices: batch.indices, tokens: model.encoder.shape.tokens)
                totals[0] += Double(model.forward(batch.images, noise: noise).loss.item) * Double(batch.count)
                totals[1] += Double(batch.count)
            }
        }
        try totals.withUnsafeMutableBufferPointer { try world.allreduce($0, op: .sum) }
        if world.rank == 0 { try drawReconstructions(of: testSet, key: testKey) }
        return [("test_loss", totals[0] / max(totals[1], 1))]
    }

    /// `reconstructions.png`: the first `gridImages` test images, a row each.
    func drawReconstructions(of testSet: ImageDataset, key: UInt64) throws {
        guard FileManager.default.fileExists(atPath: runDirectory) else { return }
        let count = min(gridImages, testSet.count)
        let loader = BatchLoader.evaluation(dataset: testSet, batchSize: count)
        defer { loader.stop() }
        guard let batch = loader.next() else { return }
        let images = batch.images   // images: [n, C, H, W], normalised
        let (c, h, w, p) = (images.shape[1], images.shape[2], images.shape[3], model.encoder.shape.patch)
        let step = Autograd.noGrad { model.forward(images, noise: MAEModel.noise(seed: seed, key: key, indices: batch.indices,
                                                                                tokens: model.encoder.shape.tokens)) }
        let target = images.patchified(patch: p)   // target: [n, L, p²C]
        let prediction = step.prediction.copy()
        let (l, e) = (target.shape[1], target.shape[2])
        if model.normPixLoss {   // back from each patch's own normalisation, with the original patch's statistics
            for patch in 0..<(count * l) {
                let t = target.data + patch * e, q = prediction.data + patch * e
                let mean = (0..<e).reduce(0.0) { $0 + Double(t[$1]) } / Double(e)
                let variance = (0..<e).reduce(0.0) { $0 + (Double(t[$1]) - mean) * (Double(t[$1]) - mean) } / Double(max(e - 1, 1))
                let std = (variance + 1e-6).squareRoot()
                for j in 0..<e { q[j] = Float(Double(q[j]) * std + mean) }
            }
        }
        let masked = target.copy(), pasted = prediction.copy()
        // Per channel: mid-gray where patches were masked, and the range 0…1 maps back from.
        let (mean, std) = ((0..<c).map { testSet.mean[$0 % testSet.mean.count] }, (0..<c).map { testSet.std[$0 % testSet.std.count] })
        let grey = (0..<e).map { (0.5 - mean[$0 % c]) / std[$0 % c] }   // a patch is p·p pixels of c channels, channels last
        for patch in 0..<(count * l) where step.mask.data[patch] == 1 {
            (masked.data + patch * e).update(from: grey, count: e)
        }
        for patch in 0..<(count * l) where step.mask.data[patch] == 0 {
            (pasted.data + patch * e).update(from: target.data + patch * e, count: e)
        }
        let columns = [target, masked, prediction, pasted].map { $0.unpatchified(patch: p, channels: c, height: h, width: w) }
        let (scale, gap) = (2, 4)
        var picture = PNGImage(width: 4 * (w * scale + gap) + gap, height: count * (h * scale + gap) + gap, channels: c == 3 ? 3 : 1)
        let ranges = (0..<c).map { (0 - mean[$0]) / std[$0]...(1 - mean[$0]) / std[$0] }
        for (column, tensor) in columns.enumerated() {
            for i in 0..<count {   // gray or RGB; of other channel counts, the first
                picture.draw(tensor.data + i * c * h * w, rows: h, columns: w, at: gap + column * (w * scale + gap), gap + i * (h * scale + gap),
                             scale: scale, ranges: ranges)
            }
        }
        try AtomicFile.write(picture.encoded(), to: runDirectory + "/reconstructions.png")
    }
}
