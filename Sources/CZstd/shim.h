#ifndef CONCORD_CZSTD_SHIM_H
#define CONCORD_CZSTD_SHIM_H
#include <zstd.h>
#endif
