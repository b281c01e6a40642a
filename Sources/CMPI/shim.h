#ifndef CONCORD_CMPI_SHIM_H
#define CONCORD_CMPI_SHIM_H
#include <mpi.h>
/* MPI's handles are macros over the addresses of library globals, which Swift cannot
   import; these functions give them names Swift can call. */
static inline MPI_Comm concord_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm concord_mpi_comm_null(void) { return MPI_COMM_NULL; }
static inline MPI_Datatype concord_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype concord_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype concord_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype concord_mpi_uint8(void) { return MPI_UINT8_T; }
static inline MPI_Op concord_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op concord_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op concord_mpi_min(void) { return MPI_MIN; }
static inline MPI_Errhandler concord_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline MPI_Request concord_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *concord_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline void *concord_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Info concord_mpi_info_null(void) { return MPI_INFO_NULL; }
static inline int concord_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int concord_mpi_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }
static inline int concord_mpi_success(void) { return MPI_SUCCESS; }
static inline int concord_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
#endif
