/// An error in what the user gave — a config, a flag, a data file, a checkpoint, a model that
/// does not match its state — reported as one line that names the thing and what to do.
///
/// Trying the same thing again cannot fix it, so a launcher stops instead of restarting
/// (`concord` exits with status 2 for these). Every target's user-facing error conforms.
public protocol UserInputError: Error, CustomStringConvertible {}

/// The exit status of a process that stops on an error.
public enum ExitStatus {
    /// For errors a restart cannot fix (`UserInputError`): `launch/supervise` stops on it.
    public static let permanent: Int32 = 2

    /// 2 for errors in the user's input (they would happen again), 1 for the rest
    /// (communication failures, a lost node: a restart may succeed).
    public static func of(_ error: Error) -> Int32 { error is UserInputError ? permanent : 1 }
}
