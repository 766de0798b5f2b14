/* record.h - the 8-byte event record and the value payload encoding.
 *
 * Every event the recorder keeps is one 64-bit word:
 *
 *   bits 0-3   kind (FT_REC_*)
 *   bit  4     FT_REC_TS: a raw timestamp word follows
 *   bit  5     FT_REC_FRAME: the payload identifies the frame (entries of
 *              generators and coroutines: the same for every resumption
 *              of one instance)
 *   bits 6-31  code id (index in the code table; 26 bits)
 *   bits 32-63 payload: a value reference (see FT_VAL_*), 0 when none
 *
 * Keeping records this small is
 * the main lever on speed: the callbacks are cheap, memory traffic is not.
 */
#ifndef FLOWTRACE_RECORD_H
#define FLOWTRACE_RECORD_H

#include <stdint.h>

typedef uint64_t ft_record;

enum {
    FT_REC_START = 0,   /* PY_START: a new call (payload unused) */
    FT_REC_RESUME = 1,  /* PY_RESUME: generator/coroutine resumed */
    FT_REC_THROW = 2,   /* PY_THROW: resumed by throw()/close() */
    FT_REC_RETURN = 3,  /* PY_RETURN: payload = returned value */
    FT_REC_YIELD = 4,   /* PY_YIELD: payload = yielded value */
    FT_REC_UNWIND = 5,  /* PY_UNWIND: payload = formatted exception */
    FT_REC_ARGS = 6,    /* written by @trace: payload = args text of the
                           next START of this code on this thread */
    FT_REC_RAISE = 7,   /* RAISE that originates in this frame (not one
                           propagating from a callee): payload = exception */
    FT_REC_RERAISE = 8, /* RERAISE: payload = exception */
    FT_REC_HANDLED = 9, /* EXCEPTION_HANDLED: payload = exception */
    FT_REC_TASK = 10,   /* the asyncio task running from now on this thread
                           changed: payload = its name; followed by a word
                           with the task's address (0: no task) */
    FT_REC_TASK_NEW = 11, /* a task was created: payload = the name of the
                             task that created it; followed by a word with
                             the new task's address */
    FT_REC_ARGV = 12,   /* --args: one named parameter's value, in
                           co_varnames order (positional, then keyword-only),
                           before the START of its code */
    FT_REC_ARGX = 13,   /* --args: one item of *args, or (with FT_REC_FRAME
                           set) the text of **kwargs */
    FT_REC_GSEQ = 14,   /* payload = the session-wide order of the next
                           generator/coroutine entry on this thread; the
                           entries after it count up from there until the
                           next FT_REC_GSEQ. Written only when the previous
                           such entry was on another thread, it orders a
                           generator's segments across threads. */
};

#define FT_REC_TS 0x10u
#define FT_REC_FRAME 0x20u
/* On an FT_REC_TASK record the FRAME bit says that the task's step is
 * already under way, its frames begun before the record (the first record
 * of a snapshot, snapshot.h): the step ends at the next yield of a frame
 * not seen starting. */
#define FT_REC_TASK_UNDER_WAY FT_REC_FRAME
#define FT_CODE_ID_BITS 26
#define FT_CODE_ID_MAX ((1u << FT_CODE_ID_BITS) - 1u)

static inline ft_record
ft_rec_make(unsigned kind, uint32_t code_id, uint32_t payload)
{
    return (uint64_t)kind | ((uint64_t)code_id << 6) | ((uint64_t)payload << 32);
}
static inline unsigned ft_rec_kind(ft_record r) { return (unsigned)(r & 15u); }
static inline int ft_rec_has_ts(ft_record r) { return (r & FT_REC_TS) != 0; }
static inline int ft_rec_has_frame(ft_record r) { return (r & FT_REC_FRAME) != 0; }
static inline uint32_t ft_rec_code(ft_record r) { return (uint32_t)(r >> 6) & FT_CODE_ID_MAX; }
static inline uint32_t ft_rec_payload(ft_record r) { return (uint32_t)(r >> 32); }

/* Value payloads. Common immutable results never touch the value store. */
#define FT_VAL_ABSENT 0u        /* nothing captured */
#define FT_VAL_PYNONE 1u        /* None */
#define FT_VAL_FALSE 2u         /* False */
#define FT_VAL_TRUE 3u          /* True */
#define FT_VAL_GENEXIT 4u       /* UNWIND by GeneratorExit: closed */
#define FT_VAL_FIRST_INDEX 8u   /* payload - 8 = index in the value store
                                   (modulo 2^30: up to 0x40000007) */
/* Above the value store's range, values that need no stored reference: */
#define FT_VAL_CHAR_BASE 0x40000100u /* + c (c < 256): the str chr(c);
                                        + 256: the empty str */
#define FT_VAL_OBJ_BASE 0x40001000u  /* + k: an instance of the k-th class
                                        of its thread's class table */
#define FT_VAL_OBJ_LIMIT 0x5FFFFFFFu /* last payload of that range */
#define FT_VAL_ARENA_BASE 0x60000000u /* + u (29 bits): a value kept by value
                                         in its thread's arena, at 4-byte unit
                                         u (modulo 2^29; buffer.h) */
#define FT_ARENA_UNIT_MASK ((1u << 29) - 1u)
#define FT_VAL_INLINE_INT 0x80000000u /* low 31 bits: a signed int */
#define FT_INLINE_INT_MIN (-(1L << 30))
#define FT_INLINE_INT_MAX ((1L << 30) - 1)

static inline int ft_val_is_inline_int(uint32_t p) { return (p & FT_VAL_INLINE_INT) != 0; }
static inline int ft_val_is_char(uint32_t p) { return p - FT_VAL_CHAR_BASE <= 256u; }
static inline int ft_val_is_obj(uint32_t p)
{
    return p >= FT_VAL_OBJ_BASE && p <= FT_VAL_OBJ_LIMIT;
}
static inline int ft_val_is_arena(uint32_t p)
{
    return (p & 0xE0000000u) == FT_VAL_ARENA_BASE;
}
static inline long ft_val_inline_int(uint32_t p)
{
    /* sign-extend 31 bits */
    int32_t v = (int32_t)(p << 1);
    return (long)(v >> 1);
}

#endif
