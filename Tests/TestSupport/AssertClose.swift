import Engine
import XCTest

/// Element-wise `|actual - expected| <= atol + rtol·|expected|`, the rule the golden cases use.
/// Reports the worst element (index, both values) on failure.
public func assertClose(
    _ actual: [Float], _ expected: [Float], rtol: Float = 1e-4, atol: Float = 1e-5,
    _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line
) {
    guard actual.count == expected.count else {
        XCTFail("count \(actual.count) != \(expected.count) \(message())", file: file, line: line)
        return
    }
    var worst = -1
    var worstRatio: Float = 0
    for i in 0..<actual.count {
        let tol = atol + rtol * abs(expected[i])
        let err = abs(actual[i] - expected[i])
        let ratio = err.isNaN ? .infinity : err / tol
        if ratio > worstRatio { worstRatio = ratio; worst = i }
    }
    if worstRatio > 1 {
        XCTFail("not close at [\(worst)]: \(actual[worst]) vs \(expected[worst]) "
                + "(\(worstRatio)× tolerance) \(message())", file: file, line: line)
    }
}

/// Tensor overload of `assertClose`; shapes must match too.
public func assertClose(
    _ actual: Tensor, _ expected: Tensor, rtol: Float = 1e-4, atol: Float = 1e-5,
    _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.shape, expected.shape, "shape \(message())", file: file, line: line)
    assertClose(actual.values, expected.values, rtol: rtol, atol: atol, message(), file: file, line: line)
}
