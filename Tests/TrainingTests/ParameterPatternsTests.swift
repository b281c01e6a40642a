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
}
