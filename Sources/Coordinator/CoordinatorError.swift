/// A problem the coordinator reports to the user as one line (bad config, run directory...).
public struct CoordinatorError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
