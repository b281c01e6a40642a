import Config
import TestSupport
import Foundation
import XCTest

/// Asserts `body` throws a `ConfigError` whose one-line message contains every part.
@discardableResult
func assertConfigError<T>(_ body: @autoclosure () throws -> T, contains parts: [String],
                          file: StaticString = #filePath, line: UInt = #line) -> String? {
    assertError(ConfigError.self, try body(), contains: parts, file: file, line: line)
}
