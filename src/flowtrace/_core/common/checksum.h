/* checksum.h - the 64-bit word hash that guards each block of a .ftrace
 * file (docs/ftrace-format.md): fast enough to add nothing measurable to a
 * write at disk speed, and any damaged byte changes it. It detects damage,
 * not tampering. */
#ifndef FLOWTRACE_CHECKSUM_H
#define FLOWTRACE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    uint64_t h;     /* the running hash */
    uint8_t tail[8]; /* bytes of an unfinished word */
    unsigned ntail;  /* how many */
} ft_checksum;

static inline uint64_t
ft_checksum_mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    return (h << 29) | (h >> 35);
}

static inline void
ft_checksum_init(ft_checksum *c, uint64_t length)
{
    c->h = 0x9E3779B97F4A7C15ull ^ length;
    c->ntail = 0;
}

/* Words are read little-endian (memcpy on the little-endian machines
 * FlowTrace builds on); the bytes may come in pieces of any size. */
static inline void
ft_checksum_add(ft_checksum *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (c->ntail > 0) {
        size_t take = 8 - c->ntail;
        take = take > len ? len : take;
        memcpy(c->tail + c->ntail, p, take);
        c->ntail += (unsigned)take;
        p += take;
        len -= take;
        if (c->ntail < 8) {
            return;
        }
        uint64_t w;
        memcpy(&w, c->tail, 8);
        c->h = ft_checksum_mix(c->h, w);
        c->ntail = 0;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c->h = ft_checksum_mix(c->h, w);
        p += 8;
        len -= 8;
    }
    if (len > 0) {
        memcpy(c->tail, p, len);
        c->ntail = (unsigned)len;
    }
}

static inline uint64_t
ft_checksum_end(ft_checksum *c)
{
    uint64_t h = c->h;
    if (c->ntail > 0) {
        uint8_t last[8] = {0};
        memcpy(last, c->tail, c->ntail);
        uint64_t w;
        memcpy(&w, last, 8);
        h = ft_checksum_mix(h, w);
    }
    return h ^ (h >> 32);
}

#endif
