import Engine

/// A config that cannot be used — a file, a key, a value, a `--set` flag — as one line that
/// starts with where it came from (`file:line` or the flag) and says what to change.
public struct ConfigError: UserInputError {
    public let description: String
    public init(_ description: String) { self.description = description }
}
