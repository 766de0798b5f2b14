/* buffer.h - per-thread chunked event buffers and value stores.
 *
 * Each thread that produces an event during a session gets one
 * ft_threadbuf. Only that thread appends to it (no lock: appends happen
 * with the GIL held by the owner thread, and nobody else touches a buffer
 * until the session is stopped). Records go into chunks linked in a list,
 * each twice the size of the one before (up to 2 MiB), so that memory
 * follows the events recorded, not the threads; values that cannot live
 * inside a record go to the value store.
 */
#ifndef FLOWTRACE_BUFFER_H
#define FLOWTRACE_BUFFER_H

#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "recording/record.h"

/* The memory of buffers (records, value stores, class tables, the buffer
 * structs) comes from malloc, not PyMem_Raw: it is FlowTrace's, not the
 * program's, and a program that measures its own memory with tracemalloc
 * (which sees PyMem_Raw) must not count it. Everything a buffer owns is
 * allocated and freed with these. */
static inline void *ft_buf_malloc(size_t n) { return malloc(n ? n : 1); }
static inline void *ft_buf_calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }
static inline void *ft_buf_realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }
static inline void ft_buf_free(void *p) { free(p); }

/* Chunks grow geometrically: a thread's first chunk is FT_CHUNK_MIN_BYTES
 * (a thread that records ten events costs a few KiB, not megabytes), each
 * next one twice the last, up to FT_CHUNK_BYTES; from then on every chunk
 * is FT_CHUNK_BYTES. A big chunk is 2 MiB, aligned on 2 MiB where the
 * system allows it, so that one transparent huge page backs it: one page
 * fault per chunk instead of 512 (page faults, not the callbacks, dominate
 * the cost of a long recording). Smaller chunks come from malloc. */
#define FT_CHUNK_MIN_BYTES ((size_t)4 << 10)
#define FT_CHUNK_BYTES ((size_t)2 << 20)
#define FT_VALUE_TAG_BITS ((uintptr_t)3) /* see values.h */
/* Value-store indices count modulo 2^30 (they must fit a payload below
 * FT_VAL_INLINE_INT): in ring mode a long run wraps around, harmlessly, as
 * far fewer values are alive at once. */
#define FT_VALUE_INDEX_MASK ((1u << 30) - 1u)

typedef struct ft_chunk {
    struct ft_chunk *next; /* owned: the following chunk, NULL at the tail */
    size_t used;           /* records written (set when the chunk is left) */
    size_t cap;            /* records it has room for (its size in bytes is
                              ft_chunk_bytes(cap); FT_CHUNK_BIG_RECORDS:
                              a big mmap'd chunk, else malloc'd) */
    uint32_t vfirst;       /* value-store index of the first value stored
                              while this chunk was the tail */
    uint32_t afirst;       /* arena unit of the oldest arena entry a
                              record of this chunk may name, low 32 bits
                              (ft_chunk_afirst; kept in the header's
                              padding: the chunks' geometry is unchanged) */
    ft_record recs[];      /* `cap` records */
} ft_chunk;

#define ft_chunk_bytes(cap) (offsetof(ft_chunk, recs) + (size_t)(cap) * sizeof(ft_record))
#define FT_CHUNK_BIG_RECORDS ((FT_CHUNK_BYTES - offsetof(ft_chunk, recs)) / sizeof(ft_record))
#define FT_CHUNK_MIN_RECORDS ((FT_CHUNK_MIN_BYTES - offsetof(ft_chunk, recs)) / sizeof(ft_record))

/* Big chunks of freed traces, kept for the next session: a reused chunk is
 * already backed by memory, so recording into it takes no page fault. At
 * most FT_POOL_MAX for the whole module, whatever the number of threads. */
#define FT_POOL_MAX 8 /* 16 MiB */

typedef struct {
    ft_chunk *free; /* owned list of spare big chunks (linked through next) */
    unsigned count; /* length of free */
    int closed;     /* the module is going away: free chunks at once */
} ft_chunkpool;

/* Per-thread cache of code verdicts in front of the code table: generator
 * pipelines and mutual recursion alternate between a few code objects, so
 * one "last code" slot alone misses often. */
#define FT_VCACHE_SIZE 256

typedef struct {
    PyObject *code;   /* borrowed (kept alive by the session's code table) */
    uint32_t verdict; /* its verdict */
} ft_vcache_entry;

#define FT_SILENT_MAX 4 /* nested silent closes followed (buffer.silent) */

typedef struct ft_threadbuf {
    /* --- hot: touched on every event --- */
    ft_record *pos;        /* borrowed: next free record in `tail` */
    ft_record *end;        /* borrowed: one past the last record of `tail` */
    PyObject *last_code;   /* borrowed: code of the last lookup (kept alive
                              by the session's code table) */
    uint32_t last_verdict; /* verdict of last_code */
    int paused;            /* > 0 while FlowTrace itself runs Python code on
                              this thread (formatting @trace args) */
    /* --- cold --- */
    ft_chunk *head;        /* owned: first chunk */
    ft_chunk *tail;        /* borrowed: last chunk (owned through head) */
    PyObject **values;     /* owned array of owned refs: the value store.
                              The low two bits of an entry are a tag
                              (values.h): mask them before using it. */
    uint32_t nvalues;      /* used entries of `values` */
    uint32_t cap_values;   /* allocated entries of `values` */
    uint32_t vbase;        /* value-store index of values[0]: values of
                              recycled chunks are released (ring mode) */
    PyObject **classes;    /* owned array of owned refs: the user classes
                              of captured instances (payload
                              FT_VAL_OBJ_BASE + index), for the whole
                              session, ring mode included; in a trace
                              loaded from a file, their texts (str) */
    uint32_t nclasses;     /* used entries of `classes` */
    PyObject *texts;       /* owned dict or NULL: str -> the same str, the
                              texts this thread stored, so that an equal
                              one shares it (values.c; a bounded cache) */
    uint8_t *arena;        /* owned (malloc) or NULL: values kept by value,
                              entries of whole 4-byte units (values.c
                              encodes and decodes them), payload
                              FT_VAL_ARENA_BASE + unit modulo 2^29 */
    size_t alen;           /* bytes used of `arena` (a multiple of 4) */
    size_t acap;           /* bytes allocated for `arena` */
    uint64_t abase;        /* absolute unit of arena[0]: units of recycled
                              chunks are released (ring mode) */
    uint64_t afloor;       /* an equal entry below this unit is not shared
                              (a snapshot's mark: the copy starts there) */
    uint64_t alast;        /* unit of the last arena payload handed out */
    uint64_t *adedup;      /* owned or NULL (recording only): open
                              addressing, unit + 1 of arena entries (low
                              32 bits; 0: empty) and their hash (high 32,
                              ft_threadbuf_arena_commit's), by that hash,
                              so that an equal entry is shared (a bounded
                              cache) */
    uint32_t adedup_mask;  /* size - 1 of adedup */
    uint32_t adedup_n;     /* used slots of adedup */
    uint32_t class_mask;   /* size - 1 of class_slots (0: none yet) */
    uint32_t *class_slots; /* owned: open addressing, index + 1 of a class
                              in `classes` (0: empty), by address */
    size_t ring_records;   /* ring mode: records kept at least; older
                              chunks are recycled (0: grow) */
    size_t sealed;         /* records in the chunks before `tail` */
    uint64_t dropped;      /* records of recycled chunks: not kept */
    unsigned long ident;   /* thread identifier (threading.get_ident()) */
    PyObject *name;        /* owned: thread name (str) or NULL */
    int name_tries;        /* attempts to read the name while running */
    int failed;            /* a memory failure happened: stop appending */
    PyObject *unwound_code; /* borrowed (kept alive by the session's code
                              table) or NULL: code of the frame whose
                              PY_UNWIND was this thread's last exception
                              event (recorder.c: propagation or new raise) */
    PyObject *silent[FT_SILENT_MAX]; /* identities only, never
                              dereferenced: codes of the generators whose
                              PY_THROW was a close() that runs none of their
                              code (compat.h), innermost last; their
                              PY_UNWIND is not recorded either. They nest:
                              closing one frees its locals, which may close
                              another generator. */
    int nsilent;           /* entries of `silent` in use */
    uint32_t exc_payload;  /* payload of the last exception text stored:
                              an equal text shares it */
    int coro_depth;        /* coroutine and async generator frames entered
                              and not yet left: 0 means the event loop is
                              between task steps */
    int saw_loop;          /* an asyncio task ran (or was created) on this
                              thread since a plain generator last ran
                              outside any task */
    uintptr_t last_task;   /* identity only: the asyncio task of the last
                              step recorded on this thread (0: none) */
    ft_chunkpool *pool;    /* borrowed: the module's pool (used only while
                              recording, when the module is alive) */
    struct ft_threadbuf *next; /* owned: next buffer of the same session */
    int recording;         /* vcache[] is allocated: from
                              ft_threadbuf_new until the session stops */
    ft_vcache_entry vcache[]; /* verdicts by code address: FT_VCACHE_SIZE
                              entries while recording, none in a stopped
                              trace's buffers (ft_threadbuf_finish_all
                              copies the buffer without them) */
} ft_threadbuf;

/* A recording buffer: one FT_CHUNK_MIN_BYTES chunk and a verdict cache. */
ft_threadbuf *ft_threadbuf_new(ft_chunkpool *pool, size_t ring_records);
/* A buffer with no chunk: only a value store (traces rebuilt from events). */
ft_threadbuf *ft_threadbuf_new_empty(void);
/* A stopped buffer holding a copy of `n` records (a loaded .ftrace
 * file's; with `recs` NULL, room for them in head->recs, which the caller
 * fills), and nothing else yet: the caller fills its tables. NULL when out
 * of memory. */
ft_threadbuf *ft_threadbuf_from_records(const void *recs, size_t n);

/* Free a list of buffers linked through ->next, with their values; their
 * chunks go back to `pool` (may be NULL). */
void ft_threadbuf_free_list(ft_threadbuf *tb, ft_chunkpool *pool);
/* Free the spare chunks and close the pool. */
void ft_chunkpool_close(ft_chunkpool *pool);

/* Slow path of an append: current chunk full. The next chunk is twice the
 * size of the last (up to FT_CHUNK_BYTES). In ring mode, the oldest chunks
 * are recycled, and their values released, while the others still hold
 * ring_records records. Returns 0 or -1 (failed). */
int ft_threadbuf_grow(ft_threadbuf *tb);

/* The session stopped: for each of the `n` buffers of `list`, seal the
 * tail chunk's `used` count (needed before reading), and give back what
 * only recording needed: the verdict cache, the tail chunk's unused room
 * (malloc'd chunks) and the value store's. Returns the list in reverse
 * order, its buffers moved: the old addresses are dead (the recording
 * threads' ft_tl_buf still hold them, but are never trusted again, as the
 * session's generation is over). Nothing is appended afterwards. */
ft_threadbuf *ft_threadbuf_finish_all(ft_threadbuf *list, size_t n);

/* Bytes of memory a buffer holds (records, value store, class table, the
 * buffer itself), not counting the Python objects it refers to. */
size_t ft_threadbuf_nbytes(const ft_threadbuf *tb);
/* Bytes of the spare chunks a pool holds. */
size_t ft_chunkpool_nbytes(const ft_chunkpool *pool);

/* Append one owned reference to the value store; returns its payload or
 * FT_VAL_ABSENT on memory failure (the reference is then released). */
uint32_t ft_threadbuf_store(ft_threadbuf *tb, PyObject *owned);

/* The payload of an instance of class `t`: FT_VAL_OBJ_BASE + its index
 * in the thread's class table (added on first sight), or FT_VAL_ABSENT on
 * memory failure or when the table is full. */
uint32_t ft_threadbuf_class(ft_threadbuf *tb, PyTypeObject *t);

/* The class of a FT_VAL_OBJ_* payload (borrowed), or NULL. */
static inline PyObject *
ft_threadbuf_class_of(const ft_threadbuf *tb, uint32_t payload)
{
    uint32_t k = payload - FT_VAL_OBJ_BASE;
    return k < tb->nclasses ? tb->classes[k] : NULL;
}

/* The stored (tagged) entry of a payload, or NULL when it was released
 * (ring mode) or is not an index. */
static inline PyObject *
ft_threadbuf_value(const ft_threadbuf *tb, uint32_t payload)
{
    uint32_t off = (payload - FT_VAL_FIRST_INDEX - tb->vbase) & FT_VALUE_INDEX_MASK;
    return off < tb->nvalues ? tb->values[off] : NULL;
}

/* A chunk's afirst as an absolute unit: never below the arena's base. */
#define ft_chunk_afirst(tb, c) ((tb)->abase + (uint32_t)((c)->afirst - (uint32_t)(tb)->abase))

/* Arena entries of more bytes than this stay objects. */
#define FT_ARENA_ENTRY_MAX 256

/* Room for FT_ARENA_ENTRY_MAX more bytes in the arena: 0, or -1 (no memory). */
int ft_threadbuf_arena_grow(ft_threadbuf *tb);

/* Where the next arena entry is encoded (FT_ARENA_ENTRY_MAX bytes of room),
 * then committed; NULL when out of memory. */
static inline uint8_t *
ft_threadbuf_arena_tail(ft_threadbuf *tb)
{
    if (tb->acap - tb->alen < FT_ARENA_ENTRY_MAX && ft_threadbuf_arena_grow(tb) < 0) {
        return NULL;
    }
    return tb->arena + tb->alen;
}

/* The bytes of an arena payload (borrowed) and how many bytes of the arena
 * follow it (*avail), or NULL when it was released (ring mode) or is not
 * in this buffer's arena. */
static inline const uint8_t *
ft_threadbuf_arena_at(const ft_threadbuf *tb, uint32_t payload, size_t *avail)
{
    uint32_t off = ((payload - FT_VAL_ARENA_BASE) - (uint32_t)tb->abase) & FT_ARENA_UNIT_MASK;
    if ((size_t)off * 4 >= tb->alen) {
        return NULL;
    }
    *avail = tb->alen - (size_t)off * 4;
    return tb->arena + (size_t)off * 4;
}

/* Arena entries' hashes: the encoder (values.c) mixes each 8-byte word of
 * data it writes into a running hash with FT_ARENA_MIX (so that no loop
 * reads the entry again), or hashes the bytes it copied with
 * ft_arena_hash; equal entries get equal hashes as the same bytes are made
 * the same way. */
#define FT_ARENA_MIX(h, w) (((h) ^ (uint64_t)(w)) * 0x9E3779B97F4A7C15ull)

static inline uint64_t
ft_arena_hash(uint64_t h, const uint8_t *p, size_t n)
{
    uint64_t w;
    const uint8_t *end = p + (n & ~(size_t)7);
    for (; p < end; p += 8) {
        memcpy(&w, p, 8);
        h = FT_ARENA_MIX(h, w);
    }
    if (n & 4) {
        uint32_t t;
        memcpy(&t, p, 4);
        h = FT_ARENA_MIX(h, t);
    }
    return h;
}

/* The `n` bytes (a multiple of 4) at a and b are equal: compared inline,
 * entries are short (a call to memcmp cost more than the comparison). */
static inline int
ft_arena_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint64_t d = 0, x, y; /* the differences, tested once */
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        d |= x ^ y;
    }
    if (n & 4) {
        uint32_t x4, y4;
        memcpy(&x4, a + i, 4);
        memcpy(&y4, b + i, 4);
        d |= x4 ^ y4;
    }
    return d == 0;
}

/* The lowest arena unit an entry may be shared from (a snapshot's mark,
 * or in ring mode the tail chunk's first). */
uint64_t ft_threadbuf_arena_floor(const ft_threadbuf *tb);
/* Keep the entry of `n` bytes at the arena's end, of hash `h`: its
 * payload, or FT_VAL_ABSENT (the arena's 2 GiB are used). */
uint32_t ft_threadbuf_arena_keep(ft_threadbuf *tb, size_t n, uint32_t h);

/* Keep the entry of `n` bytes (a multiple of 4, at most FT_ARENA_ENTRY_MAX)
 * encoded at ft_threadbuf_arena_tail, of running hash `h` (FT_ARENA_MIX),
 * or share an equal one kept before: its payload, or FT_VAL_ABSENT when it
 * cannot be kept so (the arena's 2 GiB are used): keep it otherwise.
 * Inline: it runs for every value that is not an inline payload. */
static inline uint32_t
ft_threadbuf_arena_commit(ft_threadbuf *tb, size_t n, uint64_t h64)
{
    /* the high half, which every bit of the entry reaches, mixed with the
     * low one by one more multiply: the table is indexed by the low bits */
    uint32_t h = (uint32_t)(FT_ARENA_MIX(h64 >> 32, h64) >> 32);
    if (tb->adedup != NULL) {
        const uint8_t *entry = tb->arena + tb->alen;
        uint64_t s;
        for (uint32_t i = h & tb->adedup_mask; (s = tb->adedup[i]) != 0; i = (i + 1) & tb->adedup_mask) {
            if ((uint32_t)(s >> 32) != h) {
                continue;
            }
            uint32_t payload = FT_VAL_ARENA_BASE + (uint32_t)s - 1;
            size_t avail;
            const uint8_t *e = ft_threadbuf_arena_at(tb, payload, &avail);
            if (e != NULL && avail >= n && ft_arena_equal(e, entry, n)) {
                uint64_t unit = tb->abase + (uint64_t)(e - tb->arena) / 4;
                if (unit >= tb->afloor && (!tb->ring_records || unit >= ft_threadbuf_arena_floor(tb))) {
                    tb->alast = unit;
                    return payload;
                }
            }
        }
    }
    return ft_threadbuf_arena_keep(tb, n, h);
}

static inline int
ft_threadbuf_append(ft_threadbuf *tb, ft_record r)
{
    if (tb->pos == tb->end && ft_threadbuf_grow(tb) < 0) {
        return -1;
    }
    *tb->pos++ = r;
    return 0;
}

/* A record and the word that belongs to it (a timestamp, a task's
 * address), always in one chunk: the flight recorder drops whole chunks,
 * and a chunk that began with the second word would be read as a record
 * of its own. A chunk may end with one slot unused. */
static inline int
ft_threadbuf_append2(ft_threadbuf *tb, ft_record r, ft_record word)
{
    if (tb->end - tb->pos < 2 && ft_threadbuf_grow(tb) < 0) {
        return -1;
    }
    tb->pos[0] = r;
    tb->pos[1] = word;
    tb->pos += 2;
    return 0;
}

#endif
