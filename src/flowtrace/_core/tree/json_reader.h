/* json_reader.h - a streaming JSON tokenizer over a Python file object.
 *
 * The file is read in pieces (file.readinto, `chunk` bytes at a time) into
 * one window; the bytes are checked as UTF-8 as they arrive (as strictly
 * as Python's decoder) and tokenized in place, never held whole. Values
 * come one at a time: a scalar whole (a string decoded into `str`, an
 * integer into an int64 with an overflow flag), a container as its
 * opening, whose members ft_jr_next then walks. A syntax error is a
 * ValueError worded as the json module words it ("not valid JSON:
 * Expecting ',' delimiter at line 3 column 12"); an end of file inside the
 * document is "the file ends too early (truncated)". The document's
 * meaning is the caller's (load_json.c).
 */
#ifndef FLOWTRACE_JSON_READER_H
#define FLOWTRACE_JSON_READER_H

#include <Python.h>
#include <stdint.h>

/* Types of values. */
enum {
    FT_JV_NONE = 0, /* no value (a field left out) */
    FT_JV_NULL,
    FT_JV_FALSE,
    FT_JV_TRUE,
    FT_JV_INT,   /* an integer: `i`, or `big` when beyond int64 */
    FT_JV_FLOAT, /* a number with a fraction or exponent, NaN, Infinity */
    FT_JV_STRING, /* decoded into the reader's `str` */
    FT_JV_ARRAY, /* opened: its elements follow (ft_jr_next) */
    FT_JV_OBJECT, /* opened: its members follow (ft_jr_next) */
};

/* Deepest nesting of arrays and objects accepted. */
#define FT_JR_MAX_DEPTH 1000
/* Longest integer (digits) accepted, as int() does by default. */
#define FT_JR_MAX_DIGITS 4300
/* Longest key ft_jr_member gives (longer ones are unknown keys). */
#define FT_JR_KEY 32
/* Characters of a value kept to quote it in a message (ft_jr_sample). */
#define FT_JR_SAMPLE 40

typedef struct {
    int type;    /* FT_JV_* */
    int64_t i;   /* FT_JV_INT: the value, when !big */
    int big;     /* FT_JV_INT: beyond int64 */
} ft_jv;

/* A place in the file to come back to (ft_jr_seek). */
typedef struct {
    uint64_t offset; /* byte offset in the file */
    uint64_t line;   /* its line (1-based) */
    uint64_t col;    /* characters before it on its line */
} ft_jr_mark;

typedef struct {
    PyObject *file;     /* owned: the file read (readinto, seek) */
    PyObject *prefix;   /* owned bytes or NULL: the file's first bytes,
                           already read from it, given before the rest */
    size_t prefix_used; /* bytes of prefix given */
    uint8_t *buf;       /* owned (PyMem_Raw): the window */
    size_t cap;         /* bytes allocated in buf */
    size_t chunk;       /* bytes asked of one read */
    size_t len;         /* bytes of buf checked as UTF-8: the tokens' end */
    size_t have;        /* bytes in buf ([len, have): an unfinished UTF-8
                           sequence, completed by the next read) */
    size_t pos;         /* next byte to tokenize */
    uint64_t base;      /* file offset of buf[0] */
    int eof;            /* the file has no more bytes */
    int invalid;        /* buf[len] begins bytes that are not UTF-8: an
                           error once the tokens reach it (not before: the
                           first problem in the file is the one told,
                           whatever the size of the pieces) */
    uint64_t line;      /* line of buf[0] (1-based), for messages */
    uint64_t col;       /* characters between the line's start and buf[0] */
    const uint8_t *s;   /* borrowed: the last string or key decoded, UTF-8
                           (a lone surrogate encoded as "surrogatepass"
                           does), not NUL-terminated: in the window when it
                           had no escape (valid until the next token), else
                           in `str` */
    size_t nstr;        /* its length */
    uint8_t *str;       /* owned (PyMem_Raw): room to decode a string */
    size_t capstr;      /* bytes allocated in str */
    int str_ascii;      /* str is ASCII only */
    uint8_t key[FT_JR_KEY]; /* the last key, when ft_jr_member read it the
                           general way (its value's string may reuse str) */
    char num[72];       /* the last number's text (cut), NUL-terminated */
    size_t ndigits;     /* digits of the last integer */
    int depth;          /* containers open */
    uint8_t open[FT_JR_MAX_DEPTH + 1]; /* per open container: FT_JV_ARRAY
                           or FT_JV_OBJECT, | 0x80 once a member was read */
    int sampling;       /* quote what is read into `sample` */
    char sample[FT_JR_SAMPLE + 8]; /* the quote: json.dumps's form, ASCII,
                           cut at FT_JR_SAMPLE characters */
    size_t nsample;     /* its length */
} ft_jr;

/* Read `file` (an object with readinto) in pieces of `chunk` bytes, after
 * `prefix` (bytes, or NULL), the file's first bytes read already. 0, or
 * -1 with MemoryError. */
int ft_jr_init(ft_jr *r, PyObject *file, PyObject *prefix, size_t chunk);
void ft_jr_clear(ft_jr *r);

/* Begin the document: an empty file (or only whitespace) and a UTF-8
 * byte-order mark are refused as the old loader did. 0 or -1. */
int ft_jr_start(ft_jr *r);

/* The next value (after whitespace): a scalar read whole, a container
 * opened. 0, or -1 with ValueError (or an OSError from the file). */
int ft_jr_value(ft_jr *r, ft_jv *v);

/* In the innermost open container: 1 when another member follows (for an
 * object, its key is in `str` and the ':' is read), 0 when the container
 * closed, -1 on error. */
int ft_jr_next(ft_jr *r);

/* In the innermost open object, the next member whole: 1 with its key
 * (*key, *nkey: valid until the next call; *nkey is SIZE_MAX for a key
 * longer than any the caller knows, FT_JR_KEY bytes) and its value in `v`
 * (a string in s/nstr), 0 when the object closed, -1 on error. What
 * ft_jr_next then ft_jr_value give, read faster when it is written as
 * FlowTrace writes it. */
int ft_jr_member(ft_jr *r, const uint8_t **key, size_t *nkey, ft_jv *v);
#define FT_JR_SLOW (-3) /* (internal) not the fast path's to read */

/* Skip the rest of a container ft_jr_value opened (its type in `v`);
 * nothing for a scalar. 0 or -1. */
int ft_jr_skip(ft_jr *r, const ft_jv *v);

/* After the document: only whitespace may follow ("Extra data"). */
int ft_jr_end(ft_jr *r);

/* Where the next value begins (whitespace skipped), to read it again
 * later with ft_jr_seek. 0 or -1. */
int ft_jr_where(ft_jr *r, ft_jr_mark *m);
/* Read from `m` again: the file must be seekable; -1 with the exception
 * of its seek otherwise. Containers opened since are forgotten: the
 * depth becomes `depth`. */
int ft_jr_seek(ft_jr *r, const ft_jr_mark *m, int depth);

/* Start quoting what is read into `sample` (json.dumps's form, cut). */
void ft_jr_sample_start(ft_jr *r);
/* Stop; the quote is NUL-terminated in r->sample. */
const char *ft_jr_sample_end(ft_jr *r);

/* The last string decoded as a new str (lone surrogates kept, as
 * json.loads keeps them), or NULL with MemoryError. */
PyObject *ft_jr_str_new(const uint8_t *s, size_t n, int ascii);

/* A ValueError "not valid JSON: <what> at line L column C" at the next
 * byte. -1. */
int ft_jr_syntax(ft_jr *r, const char *what);

#endif
