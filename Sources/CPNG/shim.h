#ifndef CONCORD_CPNG_SHIM_H
#define CONCORD_CPNG_SHIM_H
#include <png.h>
#endif
