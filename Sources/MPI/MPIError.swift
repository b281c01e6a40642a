import CMPI
import Engine

/// A failed MPI call, with MPI's own description of the failure.
public struct MPIError: Error, CustomStringConvertible {
    /// The MPI function that failed, e.g. `MPI_Allreduce`.
    public let operation: String
    /// MPI's error code.
    public let code: Int32
    /// MPI's message for `code`.
    public let message: String

    /// One line: the function, MPI's message and the code.
    public var description: String { "\(operation) failed: \(message) (MPI error \(code))" }

    /// Throws when `code` is not `MPI_SUCCESS`.
    static func check(_ code: Int32, _ operation: String) throws {
        guard code != concord_mpi_success() else { return }
        throw MPIError(operation: operation, code: code, message: errorString(code))
    }

    static func errorString(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(concord_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        guard MPI_Error_string(code, &buffer, &length) == concord_mpi_success() else { return "unknown error" }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A distributed-run failure that is not an MPI error: ranks that disagree.
public struct DistributedError: Error, CustomStringConvertible {
    /// What disagreed, naming the ranks, and what to do.
    public let description: String
    /// An error with the one-line `description`.
    public init(_ description: String) { self.description = description }
}

/// A job launched so that its processes cannot form one world (a launcher misconfigured):
/// restarting it the same way cannot help, so it ends with the user-error status.
public struct LaunchError: UserInputError {
    /// What the launcher and MPI disagree on, and what to do.
    public let description: String
    /// An error with the one-line `description`.
    public init(_ description: String) { self.description = description }
}
