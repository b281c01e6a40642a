import Engine
import Foundation
import Persistence
import TestSupport
import XCTest

/// The fixed 2-D sine-cosine position table against PyTorch's: the two tables of the public
/// `mae_step` golden case (facebookresearch/mae's `get_2d_sincos_pos_embed`, a 4×4 grid at
/// widths 32 and 16), copied into Fixtures/mae_sincos_pos_embed.safetensors.
final class SinCosPositionTableTests: XCTestCase {
    func testTablesMatchMAE() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/mae_sincos_pos_embed.safetensors").path
        let file = try SafeTensors(contentsOf: path)
        for (name, dim) in [("buffer.pos_embed", 32), ("buffer.decoder_pos_embed", 16)] {
            let reference = try file.tensor(name)
            let table = Tensor.sinCosPositionTable(grid: 4, dim: dim)
            XCTAssertEqual(table.shape, reference.shape, name)
            assertClose(table.values, reference.values, rtol: 1e-6, atol: 1e-6, name)
        }
    }
}
