#ifndef CONCORD_CBLAS_SHIM_H
#define CONCORD_CBLAS_SHIM_H
#include <cblas.h>
/* Debian's OpenBLAS declares these in openblas_config.h (pulled in by cblas.h). */
#endif
