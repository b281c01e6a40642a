#ifndef CONCORD_CPNG_SHIM_H
#define CONCORD_CPNG_SHIM_H
#include <png.h>
/* PNG_IMAGE_SIZE and friends are macros; the simplified read API is all Concord uses. */
static inline size_t concord_png_image_row_stride(const png_image *image) {
    return PNG_IMAGE_ROW_STRIDE(*image);
}
static inline size_t concord_png_image_size(const png_image *image) {
    return PNG_IMAGE_SIZE(*image);
}
#endif
