/* json_reader.c - a streaming JSON tokenizer (json_reader.h).
 *
 * One window of the file at a time: a token that runs past the window's
 * end is read on after the next read (strings are decoded as they go, so
 * nothing needs the whole token in one piece). What json.loads accepts is
 * accepted (NaN and Infinity too), what it refuses is refused, in its
 * words where the position allows; an end of file anywhere inside the
 * document is "truncated". Lone surrogates from \u escapes are kept, as
 * json.loads keeps them; raw bytes must be strict UTF-8.
 */
#include "tree/json_reader.h"

#include <string.h>

#include "common/growable.h"

/* ------------------------------------------------------------------ */
/* UTF-8: checked as the bytes arrive, as strictly as Python decodes */

/* Check s[0, n): *ok is the length of its valid prefix made of whole
 * characters. 1 when what follows *ok is nothing or the start of a
 * character more bytes may complete; 0 when it is invalid. */
static int
utf8_check(const uint8_t *s, size_t n, size_t *ok)
{
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((w & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        }
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
        }
        else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        }
        else {
            *ok = i;
            return 0;
        }
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= n) {
                *ok = i;
                return 1;
            }
            uint8_t b = s[i + k];
            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
                *ok = i;
                return 0;
            }
        }
        i += need + 1;
    }
    *ok = n;
    return 1;
}

/* Characters (not bytes) in s[0, n) of valid UTF-8. */
static uint64_t
count_chars(const uint8_t *s, size_t n)
{
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) {
        k += (s[i] & 0xC0) != 0x80;
    }
    return k;
}

/* Line and column (json's: 1-based, in characters) of buf[pos]. */
static void
where(const ft_jr *r, size_t pos, uint64_t *line, uint64_t *col)
{
    const uint8_t *p = r->buf, *e = r->buf + pos;
    uint64_t ln = r->line, cl = r->col, newlines = 0;
    const uint8_t *q = p;
    /* eight bytes at a time: a byte of x is zero where w has a newline */
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7full, nls = 0x0a0a0a0a0a0a0a0aull;
    for (; e - q >= 8; q += 8) {
        uint64_t w;
        memcpy(&w, q, 8);
        uint64_t x = w ^ nls;
        uint64_t flags = ~(((x & low7) + low7) | x) & ~low7; /* bit 7 per newline */
        newlines += ((flags >> 7) * 0x0101010101010101ull) >> 56; /* their sum */
    }
    for (; q < e; q++) {
        newlines += *q == '\n';
    }
    if (newlines > 0) {
        const uint8_t *nl = e;
        while (nl[-1] != '\n') {
            nl--;
        }
        ln += newlines;
        cl = 0;
        p = nl;
    }
    *line = ln;
    *col = cl + count_chars(p, (size_t)(e - p));
}

int
ft_jr_syntax(ft_jr *r, const char *what)
{
    uint64_t line, col;
    where(r, r->pos < r->len ? r->pos : r->len, &line, &col);
    PyErr_Format(PyExc_ValueError, "not valid JSON: %s at line %llu column %llu", what,
                 (unsigned long long)line, (unsigned long long)(col + 1));
    return -1;
}

static int
truncated(ft_jr *r)
{
    return ft_jr_syntax(r, "the file ends too early (truncated)");
}

/* ------------------------------------------------------------------ */
/* reading */

int
ft_jr_init(ft_jr *r, PyObject *file, PyObject *prefix, size_t chunk)
{
    memset(r, 0, sizeof(*r));
    r->chunk = chunk ? chunk : 1;
    r->cap = r->chunk + 4; /* + an unfinished character held over */
    r->buf = PyMem_RawMalloc(r->cap);
    if (r->buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    r->file = Py_NewRef(file);
    r->prefix = prefix != NULL && PyBytes_Check(prefix) ? Py_NewRef(prefix) : NULL;
    r->line = 1;
    return 0;
}

void
ft_jr_clear(ft_jr *r)
{
    Py_CLEAR(r->file);
    Py_CLEAR(r->prefix);
    PyMem_RawFree(r->buf);
    PyMem_RawFree(r->str);
    r->buf = r->str = NULL;
}

/* Up to n bytes into dst: the prefix first, then file.readinto. The
 * memoryview lent to readinto is released after the call, so a file
 * object that kept it could not reach the window afterwards. Bytes read
 * (0 at the end), or -1 with an exception. */
static Py_ssize_t
read_some(ft_jr *r, uint8_t *dst, size_t n)
{
    if (r->prefix != NULL && r->prefix_used < (size_t)PyBytes_GET_SIZE(r->prefix)) {
        size_t left = (size_t)PyBytes_GET_SIZE(r->prefix) - r->prefix_used;
        size_t k = left < n ? left : n;
        memcpy(dst, PyBytes_AS_STRING(r->prefix) + r->prefix_used, k);
        r->prefix_used += k;
        return (Py_ssize_t)k;
    }
    if (n > r->chunk) {
        n = r->chunk;
    }
    PyObject *mv = PyMemoryView_FromMemory((char *)dst, (Py_ssize_t)n, PyBUF_WRITE);
    if (mv == NULL) {
        return -1;
    }
    PyObject *res = PyObject_CallMethod(r->file, "readinto", "O", mv);
    PyObject *rel = PyObject_CallMethod(mv, "release", NULL);
    Py_DECREF(mv);
    if (res == NULL || rel == NULL) {
        Py_XDECREF(res);
        Py_XDECREF(rel);
        return -1;
    }
    Py_DECREF(rel);
    Py_ssize_t got = res == Py_None ? -2 : PyLong_AsSsize_t(res);
    Py_DECREF(res);
    if (got == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (got < 0 || (size_t)got > n) {
        PyErr_SetString(PyExc_ValueError, "file: the file gave no bytes to read");
        return -1;
    }
    return got;
}

static int
not_utf8(uint64_t at)
{
    PyErr_Format(PyExc_ValueError, "not UTF-8 text (byte %llu)", (unsigned long long)at);
    return -1;
}

/* The window is used up: the next piece of the file. 1 when bytes are
 * there to tokenize, 0 at the end of the file, -1 on error. */
static int
refill(ft_jr *r)
{
    for (;;) {
        if (r->pos < r->len) {
            return 1;
        }
        if (r->invalid) {
            return not_utf8(r->base + r->len);
        }
        /* [0, len) leaves the window: keep its lines for the messages */
        where(r, r->len, &r->line, &r->col);
        r->base += r->len;
        memmove(r->buf, r->buf + r->len, r->have - r->len);
        r->have -= r->len;
        r->pos = r->len = 0;
        if (r->eof) {
            return r->have ? not_utf8(r->base) : 0;
        }
        if (PyErr_CheckSignals() < 0) { /* Ctrl-C stops a long load */
            return -1;
        }
        Py_ssize_t n = read_some(r, r->buf + r->have, r->cap - r->have);
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            r->eof = 1;
            continue;
        }
        size_t total = r->have + (size_t)n, ok;
        r->invalid = !utf8_check(r->buf, total, &ok);
        r->have = total;
        r->len = ok;
    }
}

/* The next byte (not taken), -1 at the end of the file, -2 on error. */
static inline int
peekc(ft_jr *r)
{
    if (r->pos < r->len) {
        return r->buf[r->pos];
    }
    int k = refill(r);
    return k > 0 ? r->buf[r->pos] : (k == 0 ? -1 : -2);
}

/* Whitespace skipped: the next byte, as peekc. */
static int skip_ws_slow(ft_jr *r);

static inline int
skip_ws(ft_jr *r)
{
    if (r->pos < r->len && r->buf[r->pos] > ' ') {
        return r->buf[r->pos];
    }
    return skip_ws_slow(r);
}

static int
skip_ws_slow(ft_jr *r)
{
    for (;;) {
        while (r->pos < r->len) {
            uint8_t c = r->buf[r->pos];
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
                return c;
            }
            r->pos++;
        }
        int k = refill(r);
        if (k <= 0) {
            return k == 0 ? -1 : -2;
        }
    }
}

/* peekc's -1 / -2 as an error: truncated, or the error already set. */
static int
eof_or_error(ft_jr *r, int c)
{
    return c == -1 ? truncated(r) : -1;
}

/* ------------------------------------------------------------------ */
/* quoting a value for a message, as json.dumps(value)[:40] */

static void
sample_put(ft_jr *r, const char *s, size_t n)
{
    if (!r->sampling) {
        return;
    }
    size_t room = FT_JR_SAMPLE - r->nsample;
    n = n < room ? n : room;
    if (n > 0) {
        memcpy(r->sample + r->nsample, s, n);
    }
    r->nsample += n;
}

static void
sample_str(ft_jr *r, const uint8_t *s, size_t n)
{
    if (!r->sampling) {
        return;
    }
    sample_put(r, "\"", 1);
    for (size_t i = 0; i < n && r->nsample < FT_JR_SAMPLE;) {
        uint32_t cp = s[i];
        size_t len = cp < 0x80 ? 1 : cp < 0xE0 ? 2 : cp < 0xF0 ? 3 : 4;
        if (len > n - i) {
            break;
        }
        if (len == 2) {
            cp = ((cp & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu);
        }
        else if (len == 3) {
            cp = ((cp & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
        }
        else if (len == 4) {
            cp = ((cp & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) |
                 (s[i + 3] & 0x3Fu);
        }
        i += len;
        char out[16];
        int k;
        if (cp == '"' || cp == '\\') {
            k = snprintf(out, sizeof(out), "\\%c", (char)cp);
        }
        else if (cp == '\n' || cp == '\r' || cp == '\t' || cp == '\b' || cp == '\f') {
            k = snprintf(out, sizeof(out), "\\%c",
                         cp == '\n' ? 'n' : cp == '\r' ? 'r' : cp == '\t' ? 't' : cp == '\b' ? 'b' : 'f');
        }
        else if (cp >= 0x20 && cp < 0x7F) {
            out[0] = (char)cp;
            k = 1;
        }
        else if (cp > 0xFFFF) {
            cp -= 0x10000;
            k = snprintf(out, sizeof(out), "\\u%04x\\u%04x", 0xD800u + (cp >> 10),
                         0xDC00u + (cp & 0x3FFu));
        }
        else {
            k = snprintf(out, sizeof(out), "\\u%04x", cp);
        }
        sample_put(r, out, (size_t)k);
    }
    sample_put(r, "\"", 1);
}

/* A float's text as Python's repr writes it (json.dumps does). */
static void
sample_float(ft_jr *r)
{
    if (!r->sampling) {
        return;
    }
    double x = PyOS_string_to_double(r->num, NULL, NULL);
    if (x == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        sample_put(r, r->num, strlen(r->num));
        return;
    }
    if (Py_IS_NAN(x)) {
        sample_put(r, "NaN", 3);
        return;
    }
    if (Py_IS_INFINITY(x)) {
        sample_put(r, x < 0 ? "-Infinity" : "Infinity", x < 0 ? 9 : 8);
        return;
    }
    char *s = PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (s == NULL) {
        PyErr_Clear();
        return;
    }
    sample_put(r, s, strlen(s));
    PyMem_Free(s);
}

void
ft_jr_sample_start(ft_jr *r)
{
    r->sampling = 1;
    r->nsample = 0;
}

const char *
ft_jr_sample_end(ft_jr *r)
{
    r->sampling = 0;
    r->sample[r->nsample] = '\0';
    return r->sample;
}

/* ------------------------------------------------------------------ */
/* tokens */

static int
str_put(ft_jr *r, const uint8_t *p, size_t n)
{
    if (FT_GROW(r->str, r->capstr, r->nstr + n, 256) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    if (n > 0) { /* no bytes: r->str may not exist yet, nor p */
        memcpy(r->str + r->nstr, p, n);
    }
    r->nstr += n;
    return 0;
}

/* A code point into str as UTF-8 (a lone surrogate as three bytes, as
 * "surrogatepass" writes it). */
static int
str_cp(ft_jr *r, uint32_t cp)
{
    uint8_t b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (uint8_t)cp;
        n = 1;
    }
    else if (cp < 0x800) {
        b[0] = (uint8_t)(0xC0 | (cp >> 6));
        b[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    }
    else if (cp < 0x10000) {
        b[0] = (uint8_t)(0xE0 | (cp >> 12));
        b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    }
    else {
        b[0] = (uint8_t)(0xF0 | (cp >> 18));
        b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    if (cp >= 0x80) {
        r->str_ascii = 0;
    }
    return str_put(r, b, n);
}

static int
hex4(ft_jr *r, uint32_t *out)
{
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        int c = peekc(r);
        if (c < 0) {
            return eof_or_error(r, c);
        }
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) {
            return ft_jr_syntax(r, "Invalid \\uXXXX escape");
        }
        v = v << 4 | (uint32_t)d;
        r->pos++;
    }
    *out = v;
    return 0;
}

static int escape(ft_jr *r);

/* After "\u": a code point, a surrogate pair joined, a lone surrogate
 * kept (json.loads's rules: a high surrogate pairs with a "\u" low one
 * right after it; anything else leaves it alone). */
static int
unicode_escape(ft_jr *r)
{
    uint32_t cp;
    if (hex4(r, &cp) < 0) {
        return -1;
    }
    while (cp >= 0xD800 && cp <= 0xDBFF) {
        int c = peekc(r);
        if (c == -2) {
            return -1;
        }
        if (c != '\\') {
            break;
        }
        r->pos++;
        c = peekc(r);
        if (c < 0) {
            return eof_or_error(r, c);
        }
        if (c != 'u') {
            return str_cp(r, cp) < 0 ? -1 : escape(r);
        }
        r->pos++;
        uint32_t lo;
        if (hex4(r, &lo) < 0) {
            return -1;
        }
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            break;
        }
        if (str_cp(r, cp) < 0) {
            return -1;
        }
        cp = lo; /* on its own: may pair with the next one */
    }
    return str_cp(r, cp);
}

/* After a backslash. */
static int
escape(ft_jr *r)
{
    int c = peekc(r);
    if (c < 0) {
        return eof_or_error(r, c);
    }
    uint8_t out;
    switch (c) {
    case '"':
    case '\\':
    case '/':
        out = (uint8_t)c;
        break;
    case 'b':
        out = '\b';
        break;
    case 'f':
        out = '\f';
        break;
    case 'n':
        out = '\n';
        break;
    case 'r':
        out = '\r';
        break;
    case 't':
        out = '\t';
        break;
    case 'u':
        r->pos++;
        return unicode_escape(r);
    default:
        return ft_jr_syntax(r, "Invalid \\escape");
    }
    r->pos++;
    return str_put(r, &out, 1);
}

/* The end of the plain run of a string in [p, e): its first quote,
 * backslash or control character, or e. Eight bytes at a time: the
 * lowest byte the word tests flag is exact (their borrows only run
 * upwards). *ascii is cleared when a byte >= 0x80 was passed. */
static inline const uint8_t *
scan_plain(const uint8_t *p, const uint8_t *e, int *ascii)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    for (;;) {
        while (e - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
            uint64_t hit =
                (((q - ones) & ~q) | ((bs - ones) & ~bs) | (w - ones * 0x20) | w) & highs;
            if (hit) {
#if PY_LITTLE_ENDIAN
                p += __builtin_ctzll(hit) / 8; /* the first flagged byte */
                if (*p < 0x80) {
                    return p; /* a quote, a backslash or a control character */
                }
                *ascii = 0; /* a byte of a UTF-8 sequence: on */
                p++;
                continue;
#else
                break;
#endif
            }
            p += 8;
        }
        while (p < e && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x80) {
            p++;
        }
        if (p == e || *p < 0x80) {
            return p;
        }
        *ascii = 0;
        p++;
    }
}

/* A string (at its opening quote) decoded into str. */
static int
read_string(ft_jr *r)
{
    r->pos++;
    r->nstr = 0;
    r->str_ascii = 1;
    {
        /* most strings: no escape, all in the window: pointed at */
        const uint8_t *b = r->buf, *p = b + r->pos, *e = b + r->len;
        int ascii = 1;
        const uint8_t *q = scan_plain(p, e, &ascii);
        if (q < e && *q == '"') {
            r->s = p;
            r->nstr = (size_t)(q - p);
            r->str_ascii = ascii;
            r->pos = (size_t)(q - b) + 1;
            return 0;
        }
    }
    for (;;) {
        const uint8_t *b = r->buf, *p = b + r->pos, *e = b + r->len;
        const uint8_t *q = scan_plain(p, e, &r->str_ascii);
        if (q > p && str_put(r, p, (size_t)(q - p)) < 0) {
            return -1;
        }
        r->pos = (size_t)(q - b);
        if (q == e) {
            int k = refill(r);
            if (k <= 0) {
                return k == 0 ? truncated(r) : -1;
            }
            continue;
        }
        if (*q == '"') {
            r->pos++;
            r->s = r->str;
            return 0;
        }
        if (*q < 0x20) {
            return ft_jr_syntax(r, "Invalid control character at");
        }
        r->pos++; /* the backslash */
        if (escape(r) < 0) {
            return -1;
        }
    }
}

static void
num_put(ft_jr *r, size_t *n, int c)
{
    if (*n < sizeof(r->num) - 1) {
        r->num[(*n)++] = (char)c;
    }
}

/* Digits: kept in num, counted. The next byte (as peekc). */
static int
digits(ft_jr *r, size_t *n, uint64_t *acc, int *big, size_t *count)
{
    for (;;) {
        /* the digits in the window, at once */
        const uint8_t *b = r->buf, *p = b + r->pos, *e = b + r->len, *q = p;
        uint64_t a = acc != NULL ? *acc : 0;
        while (q < e && (unsigned)(*q - '0') < 10) {
            unsigned d = (unsigned)(*q - '0');
            if (acc != NULL && (a > UINT64_MAX / 10 || a * 10 > UINT64_MAX - d)) {
                *big = 1;
            }
            a = a * 10 + d;
            q++;
        }
        size_t k = (size_t)(q - p);
        if (k > 0) {
            if (acc != NULL) {
                *acc = a;
            }
            size_t room = sizeof(r->num) - 1 - *n;
            memcpy(r->num + *n, p, k < room ? k : room);
            *n += k < room ? k : room;
            *count += k;
            r->pos += k;
        }
        int c;
        if (r->pos < r->len) {
            c = r->buf[r->pos];
        }
        else if ((c = peekc(r)) < 0) {
            return c;
        }
        if (c < '0' || c > '9') {
            return c;
        }
        unsigned d = (unsigned)(c - '0');
        if (acc != NULL) {
            if (*acc > (UINT64_MAX - d) / 10) {
                *big = 1;
            }
            else {
                *acc = *acc * 10 + d;
            }
        }
        (*count)++;
        num_put(r, n, c);
        r->pos++;
    }
}

static int literal(ft_jr *r, const char *word, int type, ft_jv *v);

/* A number, at its first byte ('-' or a digit). */
static int
read_number(ft_jr *r, ft_jv *v)
{
    size_t n = 0, nd = 0, nf = 0;
    uint64_t acc = 0;
    int big = 0, neg = 0, isfloat = 0;
    int c = peekc(r);
    if (c == '-') {
        neg = 1;
        num_put(r, &n, c);
        r->pos++;
        c = peekc(r);
        if (c == 'I') {
            int rc = literal(r, "Infinity", FT_JV_FLOAT, v);
            memcpy(r->num, "-Infinity", 10);
            return rc;
        }
        if (c < '0' || c > '9') {
            return c < 0 ? eof_or_error(r, c) : ft_jr_syntax(r, "Expecting value");
        }
    }
    if (c == '0') {
        num_put(r, &n, c);
        r->pos++;
        nd = 1;
        c = peekc(r);
    }
    else {
        c = digits(r, &n, &acc, &big, &nd);
    }
    if (c == '.') {
        num_put(r, &n, c);
        r->pos++;
        c = digits(r, &n, NULL, NULL, &nf);
        if (nf == 0) {
            return c < 0 ? eof_or_error(r, c) : ft_jr_syntax(r, "Expecting ',' delimiter");
        }
        isfloat = 1;
    }
    if (c == 'e' || c == 'E') {
        num_put(r, &n, c);
        r->pos++;
        c = peekc(r);
        if (c == '+' || c == '-') {
            num_put(r, &n, c);
            r->pos++;
        }
        nf = 0;
        c = digits(r, &n, NULL, NULL, &nf);
        if (nf == 0) {
            return c < 0 ? eof_or_error(r, c) : ft_jr_syntax(r, "Expecting ',' delimiter");
        }
        isfloat = 1;
    }
    if (c == -2) {
        return -1;
    }
    r->num[n] = '\0';
    r->ndigits = nd;
    if (isfloat) {
        v->type = FT_JV_FLOAT;
        sample_float(r);
        return 0;
    }
    if (nd > FT_JR_MAX_DIGITS) {
        PyErr_Format(PyExc_ValueError,
                     "not a FlowTrace trace (Exceeds the limit (%d digits) for integer string "
                     "conversion: value has %zu digits)",
                     FT_JR_MAX_DIGITS, nd);
        return -1;
    }
    v->type = FT_JV_INT;
    if (big || acc > (uint64_t)INT64_MAX + (uint64_t)neg) {
        v->big = 1;
    }
    else {
        v->i = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    }
    sample_put(r, r->num, n);
    return 0;
}

static int
literal(ft_jr *r, const char *word, int type, ft_jv *v)
{
    for (const char *w = word; *w; w++) {
        int c = peekc(r);
        if (c < 0) {
            return eof_or_error(r, c);
        }
        if (c != (uint8_t)*w) {
            return ft_jr_syntax(r, "Expecting value");
        }
        r->pos++;
    }
    v->type = type;
    if (type == FT_JV_FLOAT) {
        snprintf(r->num, sizeof(r->num), "%s", word);
        r->ndigits = 0;
    }
    sample_put(r, word, strlen(word));
    return 0;
}

static int
open_container(ft_jr *r, int type, ft_jv *v)
{
    if (r->depth >= FT_JR_MAX_DEPTH) {
        PyErr_SetString(PyExc_ValueError, "not a FlowTrace trace (JSON nested too deeply)");
        return -1;
    }
    r->pos++;
    r->open[r->depth++] = (uint8_t)type;
    v->type = type;
    sample_put(r, type == FT_JV_ARRAY ? "[" : "{", 1);
    return 0;
}

int
ft_jr_value(ft_jr *r, ft_jv *v)
{
    v->type = FT_JV_NONE;
    v->i = 0;
    v->big = 0;
    int c = skip_ws(r);
    switch (c) {
    case -2:
        return -1;
    case -1:
        return truncated(r);
    case '"':
        if (read_string(r) < 0) {
            return -1;
        }
        v->type = FT_JV_STRING;
        sample_str(r, r->s, r->nstr);
        return 0;
    case '[':
        return open_container(r, FT_JV_ARRAY, v);
    case '{':
        return open_container(r, FT_JV_OBJECT, v);
    case 't':
        return literal(r, "true", FT_JV_TRUE, v);
    case 'f':
        return literal(r, "false", FT_JV_FALSE, v);
    case 'n':
        return literal(r, "null", FT_JV_NULL, v);
    case 'N':
        return literal(r, "NaN", FT_JV_FLOAT, v);
    case 'I':
        return literal(r, "Infinity", FT_JV_FLOAT, v);
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            return read_number(r, v);
        }
        return ft_jr_syntax(r, "Expecting value");
    }
}

int
ft_jr_next(ft_jr *r)
{
    uint8_t *top = &r->open[r->depth - 1];
    int type = *top & 0x7f, seen = *top & 0x80;
    int c = skip_ws(r);
    if (c < 0) {
        return eof_or_error(r, c);
    }
    if (c == (type == FT_JV_ARRAY ? ']' : '}')) {
        r->pos++;
        r->depth--;
        sample_put(r, type == FT_JV_ARRAY ? "]" : "}", 1);
        return 0;
    }
    if (seen) {
        if (c != ',') {
            return ft_jr_syntax(r, "Expecting ',' delimiter");
        }
        r->pos++;
        sample_put(r, ", ", 2);
    }
    *top |= 0x80;
    if (type == FT_JV_ARRAY) {
        return 1; /* a ']' right after ',' is the value's "Expecting value" */
    }
    c = skip_ws(r);
    if (c < 0) {
        return eof_or_error(r, c);
    }
    if (c != '"') {
        return ft_jr_syntax(r, "Expecting property name enclosed in double quotes");
    }
    if (read_string(r) < 0) {
        return -1;
    }
    if (r->s != r->str && r->pos >= r->len) {
        /* the ':' is in the next piece: the key must outlive this one */
        size_t n = r->nstr;
        r->nstr = 0;
        if (str_put(r, r->s, n) < 0) {
            return -1;
        }
        r->s = r->str;
    }
    sample_str(r, r->s, r->nstr);
    c = skip_ws(r);
    if (c < 0) {
        return eof_or_error(r, c);
    }
    if (c != ':') {
        return ft_jr_syntax(r, "Expecting ':' delimiter");
    }
    r->pos++;
    sample_put(r, ": ", 2);
    return 1;
}

/* The fast path of ft_jr_member: a member written as FlowTrace's writer
 * writes it (no whitespace, no escape, a plain integer, string or
 * literal), whole in the window. FT_JR_SLOW, having read nothing, for
 * anything else: the general path then reads it with its checks and its
 * messages. */
static int
member_fast(ft_jr *r, const uint8_t **key, size_t *nkey, ft_jv *v)
{
    uint8_t *top = &r->open[r->depth - 1];
    const uint8_t *b = r->buf, *p = b + r->pos, *e = b + r->len;
    if (r->sampling || (*top & 0x7f) != FT_JV_OBJECT || p >= e) {
        return FT_JR_SLOW;
    }
    if (*p == '}') {
        r->pos++;
        r->depth--;
        return 0;
    }
    if (*top & 0x80) {
        if (*p != ',') {
            return FT_JR_SLOW;
        }
        p++;
    }
    if (p >= e || *p != '"') {
        return FT_JR_SLOW;
    }
    int ascii = 1;
    const uint8_t *k = p + 1, *q = scan_plain(k, e, &ascii);
    if (q + 2 >= e || *q != '"' || q[1] != ':') {
        return FT_JR_SLOW;
    }
    const uint8_t *val = q + 2, *end;
    v->i = 0;
    v->big = 0;
    if (*val == '"') {
        int vascii = 1;
        const uint8_t *vq = scan_plain(val + 1, e, &vascii);
        if (vq >= e || *vq != '"') {
            return FT_JR_SLOW;
        }
        v->type = FT_JV_STRING;
        r->s = val + 1;
        r->nstr = (size_t)(vq - val - 1);
        r->str_ascii = vascii;
        end = vq + 1;
    }
    else if ((unsigned)(*val - '0') < 10) {
        /* at most 18 digits: no overflow; "0" alone, never "01" */
        uint64_t acc = 0;
        const uint8_t *d = val, *lim = e - val > 18 ? val + 18 : e;
#if PY_LITTLE_ENDIAN
        /* eight bytes at a time: how many digits lead, and their value */
        while (e - d >= 8 && d - val <= 10) {
            uint64_t w;
            memcpy(&w, d, 8);
            uint64_t x = w - 0x3030303030303030ull;
            /* a byte that is not a digit is flagged (borrows and carries
             * run upwards: the lowest flag is exact) */
            uint64_t flags = (x | (x + 0x7676767676767676ull)) & 0x8080808080808080ull;
            unsigned n = flags ? (unsigned)__builtin_ctzll(flags) / 8 : 8;
            if (n == 0) {
                break;
            }
            /* the n digits, right-aligned after leading zeros, as a number */
            x = n == 8 ? x : x << (8 * (8 - n));
            x = (x * 10 + (x >> 8)) & 0x00FF00FF00FF00FFull;
            x = (x * 100 + (x >> 16)) & 0x0000FFFF0000FFFFull;
            x = (x * 10000 + (x >> 32)) & 0xFFFFFFFFull;
            static const uint64_t pow10[9] = {1, 10, 100, 1000, 10000, 100000, 1000000,
                                              10000000, 100000000};
            acc = acc * pow10[n] + x;
            d += n;
            if (n < 8) {
                break;
            }
        }
#endif
        while (d < lim && (unsigned)(*d - '0') < 10) {
            acc = acc * 10 + (unsigned)(*d - '0');
            d++;
        }
        if (d >= e || (*val == '0' && d - val > 1) || (*d != ',' && *d != '}')) {
            return FT_JR_SLOW;
        }
        v->type = FT_JV_INT;
        v->i = (int64_t)acc;
        r->ndigits = (size_t)(d - val);
        end = d;
    }
    else if (e - val >= 5 && memcmp(val, "true", 4) == 0) {
        v->type = FT_JV_TRUE;
        end = val + 4;
    }
    else if (e - val >= 6 && memcmp(val, "false", 5) == 0) {
        v->type = FT_JV_FALSE;
        end = val + 5;
    }
    else if (e - val >= 5 && memcmp(val, "null", 4) == 0) {
        v->type = FT_JV_NULL;
        end = val + 4;
    }
    else {
        return FT_JR_SLOW;
    }
    if (end >= e || (*end != ',' && *end != '}')) {
        return FT_JR_SLOW; /* the next byte is the general path's to judge */
    }
    *top |= 0x80;
    *key = k;
    *nkey = (size_t)(q - k);
    r->pos = (size_t)(end - b);
    return 1;
}

int
ft_jr_member(ft_jr *r, const uint8_t **key, size_t *nkey, ft_jv *v)
{
    int k = member_fast(r, key, nkey, v);
    if (k != FT_JR_SLOW) {
        return k;
    }
    k = ft_jr_next(r);
    if (k <= 0) {
        return k;
    }
    /* the key must outlive the value's string: copied aside */
    size_t n = r->nstr < sizeof(r->key) ? r->nstr : sizeof(r->key);
    memcpy(r->key, r->s, n);
    *key = r->key;
    *nkey = r->nstr <= sizeof(r->key) ? n : SIZE_MAX;
    return ft_jr_value(r, v) < 0 ? -1 : 1;
}

int
ft_jr_skip(ft_jr *r, const ft_jv *v)
{
    if (v->type != FT_JV_ARRAY && v->type != FT_JV_OBJECT) {
        return 0;
    }
    int stop = r->depth - 1;
    while (r->depth > stop) {
        int k = ft_jr_next(r);
        if (k < 0) {
            return -1;
        }
        if (k > 0) {
            ft_jv inner;
            if (ft_jr_value(r, &inner) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

int
ft_jr_start(ft_jr *r)
{
    int c = peekc(r);
    if (c == -2) {
        return -1;
    }
    if (c == 0xEF) { /* valid UTF-8 here: a whole character is in the window */
        int bom = r->len - r->pos >= 3 && r->buf[r->pos + 1] == 0xBB && r->buf[r->pos + 2] == 0xBF;
        return ft_jr_syntax(r, bom ? "Unexpected UTF-8 BOM (decode using utf-8-sig)"
                                   : "Expecting value");
    }
    /* what bytes.strip() strips: only that is an empty file */
    int other = 0;
    for (;;) {
        c = peekc(r);
        if (c == -2) {
            return -1;
        }
        if (c == -1) {
            PyErr_SetString(PyExc_ValueError, "empty file");
            return -1;
        }
        if (c == '\v' || c == '\f') {
            other = 1;
        }
        else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            break;
        }
        r->pos++;
    }
    return other ? ft_jr_syntax(r, "Expecting value") : 0;
}

int
ft_jr_end(ft_jr *r)
{
    int c = skip_ws(r);
    if (c == -2) {
        return -1;
    }
    return c == -1 ? 0 : ft_jr_syntax(r, "Extra data");
}

int
ft_jr_where(ft_jr *r, ft_jr_mark *m)
{
    int c = skip_ws(r);
    if (c < 0) {
        return eof_or_error(r, c);
    }
    m->offset = r->base + r->pos;
    where(r, r->pos, &m->line, &m->col);
    return 0;
}

int
ft_jr_seek(ft_jr *r, const ft_jr_mark *m, int depth)
{
    PyObject *res = PyObject_CallMethod(r->file, "seek", "K", (unsigned long long)m->offset);
    if (res == NULL) {
        return -1;
    }
    Py_DECREF(res);
    if (r->prefix != NULL) {
        r->prefix_used = (size_t)PyBytes_GET_SIZE(r->prefix); /* the file's own bytes now */
    }
    r->base = m->offset;
    r->len = r->have = r->pos = 0;
    r->eof = r->invalid = 0;
    r->line = m->line;
    r->col = m->col;
    r->depth = depth;
    return 0;
}

PyObject *
ft_jr_str_new(const uint8_t *s, size_t n, int ascii)
{
    if (ascii) {
        PyObject *o = PyUnicode_New((Py_ssize_t)n, 127);
        if (o != NULL && n > 0) { /* "": s may be NULL */
            memcpy(PyUnicode_DATA(o), s, n);
        }
        return o;
    }
    return PyUnicode_DecodeUTF8((const char *)s, (Py_ssize_t)n, "surrogatepass");
}
