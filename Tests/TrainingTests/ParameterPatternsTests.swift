import Foundation
@testable import Training
import Config
import Engine
import TestSupport
import XCTest

/// Parameter groups from name patterns.
final class ParameterPatternsTests: XCTestCase {
    private func resnet() -> [(String, Tensor)] {
        var rng = RandomGenerator(seed: 1)
        return ResNet.cifar(depth: 20, inputChannels: 1, numClasses: 10, rng: &rng).namedParameters()
    }

    func testA10xHeadAndNoDecayOnBNAndBiases() throws {
        let named = resnet()
        let groups = ParameterPatterns.groups(named, weightDecay: 5e-4, noDecayBNBias: true, lrScales: ["fc.*=10"], noDecay: [])
        let byName = Dictionary(uniqueKeysWithValues: groups.flatMap { g in g.parameters.map { ($0.0, g) } })
        XCTAssertEqual(byName.count, named.count, "every parameter in exactly one group")
        XCTAssertEqual(byName["fc.weight"]?.lrScale, 10)
        XCTAssertEqual(byName["fc.weight"]?.weightDecay, 5e-4)
        XCTAssertEqual(byName["fc.bias"]?.lrScale, 10)
        XCTAssertEqual(byName["fc.bias"]?.weightDecay, 0)
        XCTAssertEqual(byName["layer1.0.conv1.weight"]?.lrScale, 1)
        XCTAssertEqual(byName["layer1.0.bn1.weight"]?.weightDecay, 0)
        XCTAssertEqual(Set(groups.map(\.name)), ["decay", "no decay", "lr×10.0, decay", "lr×10.0, no decay"])
    }

    func testExplicitNoDecayPatternsAndFirstMatchWins() {
        let named = resnet()
        let groups = ParameterPatterns.groups(named, weightDecay: 1e-4, noDecayBNBias: false,
                                              lrScales: ["layer3.*=0.1", "layer*=2"], noDecay: ["layer1.*"])
        let byName = Dictionary(uniqueKeysWithValues: groups.flatMap { g in g.parameters.map { ($0.0, g) } })
        XCTAssertEqual(byName["layer3.0.conv1.weight"]?.lrScale, 0.1)
        XCTAssertEqual(byName["layer2.0.conv1.weight"]?.lrScale, 2)
        XCTAssertEqual(byName["layer1.0.conv1.weight"]?.weightDecay, 0)
        XCTAssertEqual(byName["bn1.weight"]?.weightDecay, 1e-4, "no_decay_bn_bias off")
        XCTAssertEqual(ParameterPatterns.unmatched(named, lrScales: ["head.*=10"], noDecay: ["*.bias"]), ["head.*"])
    }

    /// MAE's `param_groups_lrd` for a depth-6 ViT at decay 0.75: L = 7 layers; the embeddings
    /// are layer 0, blocks.i layer i + 1, the rest layer 7; scale 0.75^(7 − layer).
    func testLayerDecayFollowsMAE() throws {
        var rng = RandomGenerator(seed: 1)
        let vit = VisionTransformer(.init(imageSize: 28, channels: 1, patch: 7, dim: 16, depth: 6, heads: 2, mlpRatio: 2, classes: 10),
                                    rng: &rng)
        var section = TrainConfig.OptimizerSection()
        section.name = .adamw
        section.layerDecay = 0.75
        let opt = try OptimizerFactory.make(section, parameters: vit.namedParameters(), lr: 1e-3, vitDepth: 6)
        let scale = Dictionary(uniqueKeysWithValues: opt.groups.flatMap { g in g.parameters.map { ($0.0, g.lrScale) } })
        for (name, power) in [("cls_token", 7.0), ("pos_embed", 7), ("patch_embed.proj.weight", 7), ("blocks.0.attn.qkv.weight", 6),
                              ("blocks.0.norm1.bias", 6), ("blocks.5.mlp.fc2.weight", 1), ("norm.weight", 0), ("head.bias", 0)] {
            XCTAssertEqual(Double(try XCTUnwrap(scale[name], name)), pow(0.75, power), accuracy: 1e-6, name)
        }
        XCTAssertEqual(opt.groups.flatMap(\.parameters).count, vit.namedParameters().count, "every parameter in one group")
        let resnet = ResNet.cifar(depth: 20, inputChannels: 1, numClasses: 10, rng: &rng)
        assertError(TrainingError.self, try OptimizerFactory.make(section, parameters: resnet.namedParameters(), lr: 0.1),
                    contains: ["optimizer.layer_decay 0.75 needs model.name vit"])
    }
}
