#ifndef CONCORD_CZLIB_SHIM_H
#define CONCORD_CZLIB_SHIM_H
#include <zlib.h>
/* inflateInit2 is a macro that passes the library version and struct size. */
static inline int concord_inflate_init2(z_streamp strm, int window_bits) {
    return inflateInit2(strm, window_bits);
}
static inline int concord_deflate_init2(z_streamp strm, int level, int window_bits) {
    return deflateInit2(strm, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
}
#endif
