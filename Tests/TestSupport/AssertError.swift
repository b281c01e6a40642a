import XCTest

/// Asserts that `body` throws an `E` whose message is one line containing every one of
/// `parts`; returns the message so a test can check more. The one helper every test target
/// uses for "bad input gets a clear one-line error".
@discardableResult
public func assertError<E: Error, T>(_ type: E.Type, _ body: @autoclosure () throws -> T, contains parts: [String],
                                     file: StaticString = #filePath, line: UInt = #line) -> String? {
    do {
        let value = try body()
        XCTFail("expected \(E.self), got \(value)", file: file, line: line)
        return nil
    } catch let error as E {
        let message = "\(error)"
        XCTAssertFalse(message.contains("\n"), "message is not one line: \(message)", file: file, line: line)
        for part in parts {
            XCTAssertTrue(message.contains(part), "'\(message)' does not contain '\(part)'", file: file, line: line)
        }
        return message
    } catch {
        XCTFail("expected \(E.self), got \(Swift.type(of: error)): \(error)", file: file, line: line)
        return nil
    }
}
