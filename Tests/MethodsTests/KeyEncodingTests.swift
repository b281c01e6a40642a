@testable import Methods
import Config
import Engine
import MPI
import TestSupport
import XCTest

/// MoCo v2's pieces that run in one process: the instance accuracy and the key encoding
/// modes (across ranks: IntegrationTests).
final class KeyEncodingTests: XCTestCase {
    func testInstanceAccuracyCountsPositivesAboveEveryNegative() {
        let logits = Tensor(shape: [3, 3], values: [5, 1, 2,    // positive first
                                                    1, 3, 0,    // a negative wins
                                                    2, 2, 1])   // a tie is not a win
        XCTAssertEqual(MoCoV2Objective.positivesRankedFirst(logits), 1)
    }

    private func model() -> MoCoModel {
        var rng = RandomGenerator(seed: 11)
        return MoCoModel.cifar(depth: 8, hidden: 16, dim: 8, queueSize: 12, temperature: 0.2, rng: &rng)
    }

    private func images(_ n: Int) -> Tensor {
        var rng = RandomGenerator(seed: 4)
        return Tensor.randn([n, 1, 28, 28], rng: &rng)
    }

    /// In one process, shuffle-BN with G groups is the key groups on rank 0's permutation of
    /// the iteration, each group summed as one of G replicas (the key encoder's own chunking,
    /// set once); with one group, and `local`, the keys of the whole batch.
    func testOneProcessKeyEncodingUsesTheIterationsPermutationForItsGroups() throws {
        let moco = model(), x = images(8)
        let world = Communicator.single()
        let encoder = moco.encoderK
        let shuffled = KeyEncoding(mode: .shuffle, groups: 2, world: world, seed: 5)
        let perm = try shuffled.permutation(count: 8, iteration: 3)
        XCTAssertEqual(perm.sorted(), Array(0..<8))
        XCTAssertNotEqual(perm, try shuffled.permutation(count: 8, iteration: 4), "a new permutation every iteration")
        let whole = Autograd.noGrad { KeyEncoding.keys(x, encoder: encoder, groups: 1, order: []) }
        let notShuffled = try KeyEncoding(mode: .shuffle, groups: 1, world: world, seed: 5).encode(x, iteration: 3, with: encoder)
        let local = try KeyEncoding(mode: .local, groups: 4, world: world, seed: 5).encode(x, iteration: 3, with: encoder)
        XCTAssertEqual(notShuffled.own.values, whole.values)
        XCTAssertEqual(local.own.values, whole.values, "local ignores moco.key_groups")

        encoder.replicate(over: world, groupsPerRank: 2)
        XCTAssertTrue(encoder.layers(of: BatchNorm.self).allSatisfy { $0.reduction == BatchReduction(replicas: 2) })
        let expected = Autograd.noGrad { KeyEncoding.keys(x, encoder: encoder, groups: 2, order: perm) }
        let (own, all) = try shuffled.encode(x, iteration: 3, with: encoder)
        XCTAssertEqual(own.values, expected.values, "the iteration's permutation picks the groups")
        XCTAssertEqual(all.values, own.values)
        for row in 0..<8 {
            let norm = (0..<8).reduce(Float(0)) { $0 + own[flat: row * 8 + $1] * own[flat: row * 8 + $1] }
            XCTAssertEqual(norm, 1, accuracy: 1e-5, "key \(row) is a unit vector")
        }
        XCTAssertNotEqual(own.values, whole.values, "two groups' statistics differ from the whole batch's")
    }
}
