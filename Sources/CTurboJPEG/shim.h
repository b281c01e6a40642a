#ifndef CONCORD_CTURBOJPEG_SHIM_H
#define CONCORD_CTURBOJPEG_SHIM_H
#include <turbojpeg.h>
#endif
