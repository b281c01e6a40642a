import Engine

/// A problem with a data file, reported as one line naming the file and what to do.
public struct DatasetError: UserInputError {
    public let description: String
    public init(_ description: String) { self.description = description }
}
