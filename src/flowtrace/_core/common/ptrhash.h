/* ptrhash.h - the hash of an object's address, for the engine's
 * open-addressing tables (code table, origins of generated code). */
#ifndef FLOWTRACE_PTRHASH_H
#define FLOWTRACE_PTRHASH_H

#include <stddef.h>
#include <stdint.h>

static inline size_t
ft_hash_ptr(const void *p)
{
    uintptr_t v = (uintptr_t)p >> 4; /* objects are 16-byte aligned */
    return (size_t)(v * 0x9E3779B97F4A7C15ull >> 17) ^ (size_t)v;
}

#endif
