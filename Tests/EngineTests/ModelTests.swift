import Engine
import TestSupport
import XCTest

/// Architecture checks against torchvision's published parameter counts and names.
final class ModelTests: XCTestCase {
    func testResNet18And50ParameterCountsMatchTorchvision() {
        var rng = RandomGenerator(seed: 0)
        // torchvision.models.resnet18() / resnet50(): 11,689,512 and 25,557,032 parameters.
        XCTAssertEqual(ResNet.resnet18(inputChannels: 3, numClasses: 1000, rng: &rng).parameterCount, 11_689_512)
        XCTAssertEqual(ResNet.resnet50(inputChannels: 3, numClasses: 1000, rng: &rng).parameterCount, 25_557_032)
    }

    func testResNet20NamesAndForwardShape() {
        var rng = RandomGenerator(seed: 0)
        let m = ResNet.cifar(depth: 20, rng: &rng)
        let names = m.namedParameters().map(\.0)
        XCTAssertEqual(names.first, "conv1.weight")
        XCTAssertTrue(names.contains("layer2.0.downsample.0.weight"))
        XCTAssertTrue(names.contains("layer3.2.bn2.bias"))
        XCTAssertEqual(names.last, "fc.bias")
        XCTAssertEqual(m.namedBuffers().count, 2 * (1 + 9 * 2 + 2))   // stem + 9 blocks × 2 + 2 downsample BNs
        XCTAssertEqual(m.parameterCount, 272_186)   // counted on the PyTorch model of the golden resnet case
        let y = Autograd.noGrad { m(Tensor.zeros([2, 1, 28, 28])) }
        XCTAssertEqual(y.shape, [2, 10])
    }

    /// `width` scales every stage (w, 2w, 4w) and the feature width; 16 is the network above.
    func testCIFARResNetWidthScalesStagesAndFeatures() {
        var rng = RandomGenerator(seed: 0)
        let m = ResNet.cifar(depth: 20, width: 24, rng: &rng)
        let shapes = Dictionary(uniqueKeysWithValues: m.namedParameters().map { ($0.0, $0.1.shape) })
        XCTAssertEqual(shapes["conv1.weight"], [24, 1, 3, 3])
        XCTAssertEqual(shapes["layer2.0.downsample.0.weight"], [48, 24, 1, 1])
        XCTAssertEqual(shapes["layer3.2.conv2.weight"], [96, 96, 3, 3])
        XCTAssertEqual(shapes["fc.weight"], [10, 96])
        let features = Autograd.noGrad { m.features(Tensor.zeros([2, 1, 28, 28])) }
        XCTAssertEqual(features.shape, [2, 96])
        XCTAssertEqual(ResNet.cifar(depth: 20, width: 16, rng: &rng).parameterCount, 272_186)
    }

    func testInitialisationScales() {
        var rng = RandomGenerator(seed: 3)
        let conv = Conv2d(64, 64, kernel: 3, rng: &rng)
        let v = conv.weight.values
        let std = (v.map { $0 * $0 }.reduce(0, +) / Float(v.count)).squareRoot()
        XCTAssertEqual(std, (2 / Float(64 * 9)).squareRoot(), accuracy: 0.002)   // Kaiming normal, fan-out
        let lin = Linear(100, 50, rng: &rng)
        let bound = (6 / Float(150)).squareRoot()
        XCTAssertTrue(lin.weight.values.allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(lin.weight.values.map(abs).max() ?? 0, bound * 0.9)
    }

    func testVisionTransformerParameterCountsAndNamesMatchTimm() {
        var rng = RandomGenerator(seed: 0)
        // timm's vit_tiny_patch16_224: 5,717,416 parameters.
        let tiny = VisionTransformer(.init(imageSize: 224, channels: 3, patch: 16, dim: 192, depth: 12, heads: 3, mlpRatio: 4, classes: 1000),
                                     rng: &rng)
        XCTAssertEqual(tiny.parameterCount, 5_717_416)
        let vit = VisionTransformer(.init(imageSize: 28, channels: 1, patch: 4, dim: 96, depth: 6, heads: 4, mlpRatio: 2, classes: 10),
                                    rng: &rng)
        let names = vit.namedParameters().map(\.0)
        XCTAssertEqual(Array(names.prefix(4)), ["cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias"])
        for block in ["norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2"] {
            XCTAssertTrue(names.contains("blocks.5.\(block).weight") && names.contains("blocks.5.\(block).bias"), block)
        }
        XCTAssertEqual(Array(names.suffix(4)), ["norm.weight", "norm.bias", "head.weight", "head.bias"])
        XCTAssertEqual(vit.parameterCount, 456_394)
        let y = Autograd.noGrad { vit(Tensor.zeros([2, 1, 28, 28])) }
        XCTAssertEqual(y.shape, [2, 10])
        let pooled = VisionTransformer(.init(imageSize: 28, channels: 1, patch: 7, dim: 16, depth: 1, heads: 2, mlpRatio: 2, classes: 0,
                                             pooling: .mean), rng: &rng)
        XCTAssertTrue(pooled.namedParameters().map(\.0).suffix(2).elementsEqual(["fc_norm.weight", "fc_norm.bias"]))
        XCTAssertEqual(Autograd.noGrad { pooled(Tensor.zeros([3, 1, 28, 28])) }.shape, [3, 16])
    }

    /// timm's initialisation: Linear weights N(0, 0.02²), biases 0, position table N(0, 0.02²),
    /// class token ~1e-6, LayerNorm (1, 0).
    func testVisionTransformerInitialisation() {
        var rng = RandomGenerator(seed: 3)
        let vit = VisionTransformer(.init(imageSize: 28, channels: 1, patch: 4, dim: 96, depth: 2, heads: 4, mlpRatio: 2, classes: 10),
                                    rng: &rng)
        func std(_ t: Tensor) -> Float {
            let v = t.values, m = v.reduce(0, +) / Float(v.count)
            return (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Float(v.count)).squareRoot()
        }
        XCTAssertEqual(std((vit.blocks.layers[0] as! TransformerBlock).attn.qkv.weight), 0.02, accuracy: 0.001)
        XCTAssertEqual(std(vit.posEmbed), 0.02, accuracy: 0.001)
        XCTAssertLessThan(vit.clsToken.values.map(abs).max() ?? 1, 1e-5)
        XCTAssertEqual((vit.head as? Linear)?.bias?.values.allSatisfy { $0 == 0 }, true)
        XCTAssertEqual(vit.norm.weight.values.allSatisfy { $0 == 1 }, true)
    }

    func testMLPNamesFollowSequential() {
        var rng = RandomGenerator(seed: 0)
        let m = MLP.make(inputs: 784, hidden: [1024, 1024], outputs: 10, rng: &rng)
        XCTAssertEqual(m.namedParameters().map(\.0), ["1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias"])
        XCTAssertEqual(m.parameterCount, 784 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10)
    }
}
