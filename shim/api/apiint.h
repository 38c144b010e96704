/* apiint.h - what the library and its tests know of the API's handles
 * beyond throttle.h. Never installed; nothing here is exported. */
#ifndef THR_APIINT_H
#define THR_APIINT_H

#include "throttle.h"

struct thr_pool;

/* The engine's handle under pool: the gate's own when the gate has the
 * pool open, else the API's. Never NULL; never blocks. */
struct thr_pool *thr_api_engine(const throttle_pool *pool);

#endif
