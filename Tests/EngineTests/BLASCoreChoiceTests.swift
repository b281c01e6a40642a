import Engine
import XCTest

/// `BLASCoreChoice`: the OpenBLAS kernel family concord loads for a CPU's flags.
final class BLASCoreChoiceTests: XCTestCase {
    func testAVX512CPUsGetSkylakeXAndTheRestHaswell() {
        let avx2: Set<String> = ["sse4_2", "avx", "avx2", "fma"]
        XCTAssertEqual(BLASCoreChoice.preferred(flags: avx2), "Haswell")
        XCTAssertEqual(BLASCoreChoice.preferred(flags: avx2.union(CPUFeatures.avx512Subsets)), "SkylakeX")
        // AVX-512 F alone (no BW/DQ/VL) cannot run the SkylakeX kernels.
        XCTAssertEqual(BLASCoreChoice.preferred(flags: avx2.union(["avx512f"])), "Haswell")
        XCTAssertNil(BLASCoreChoice.preferred(flags: ["sse4_2", "avx"]))
        XCTAssertNil(BLASCoreChoice.preferred(flags: nil))
    }

    func testTheOriginSaysWhoChose() {
        XCTAssertEqual(BLASCoreChoice.origin(environment: [:]), "OPENBLAS_CORETYPE unset")
        XCTAssertEqual(BLASCoreChoice.origin(environment: ["OPENBLAS_CORETYPE": "SkylakeX", "CONCORD_OPENBLAS_CHOICE": "SkylakeX"]),
                       "OPENBLAS_CORETYPE=SkylakeX (chosen by concord)")
        XCTAssertEqual(BLASCoreChoice.origin(environment: ["OPENBLAS_CORETYPE": "Haswell"]),
                       "OPENBLAS_CORETYPE=Haswell (set by the environment)")
    }
}
