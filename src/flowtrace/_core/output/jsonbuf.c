/* jsonbuf.c - JSON escaping and number formatting. */
#include "output/jsonbuf.h"

#include "tree/tree.h"
#include "recording/values.h"

static const char HEX[] = "0123456789abcdef";

/* `html`: also escape <, > and & (as \u003c...), so that the text can sit
 * inside an HTML <script> element and never close it. */
static void
put_utf8(ft_sbuf *s, const char *p, size_t n, int html)
{
    if (ft_sbuf_reserve(s, n + 2) < 0) {
        return;
    }
    s->buf[s->len++] = '"';
    size_t run = 0; /* start of the pending run of plain bytes */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c != '"' && c != '\\' &&
            !(html && (c == '<' || c == '>' || c == '&'))) {
            continue;
        }
        ft_sbuf_put(s, p + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t len = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = HEX[c >> 4];
            esc[5] = HEX[c & 15];
            len = 6;
        }
        ft_sbuf_put(s, esc, len);
    }
    ft_sbuf_put(s, p + run, n - run);
    ft_sbuf_put(s, "\"", 1);
}

void
ft_json_put_utf8(ft_sbuf *s, const char *p, size_t n)
{
    put_utf8(s, p, n, 0);
}

static void
put_str(ft_sbuf *s, PyObject *str, int html)
{
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(str, &n);
    if (u == NULL) {
        /* lone surrogates have no UTF-8: escape them away */
        PyErr_Clear();
        PyObject *b = PyUnicode_AsEncodedString(str, "utf-8", "backslashreplace");
        if (b == NULL) {
            PyErr_Clear();
            ft_sbuf_puts(s, "\"?\"");
            return;
        }
        put_utf8(s, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b), html);
        Py_DECREF(b);
        return;
    }
    put_utf8(s, u, (size_t)n, html);
}

void
ft_json_put_str(ft_sbuf *s, PyObject *str)
{
    put_str(s, str, 0);
}

void
ft_json_put_str_html(ft_sbuf *s, PyObject *str)
{
    put_str(s, str, 1);
}

void
ft_json_put_u64(ft_sbuf *s, uint64_t v)
{
    char buf[24];
    char *p = buf + sizeof(buf);
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    ft_sbuf_put(s, p, (size_t)(buf + sizeof(buf) - p));
}

void
ft_json_put_i64(ft_sbuf *s, int64_t v)
{
    if (v < 0) {
        ft_sbuf_put(s, "-", 1);
        ft_json_put_u64(s, (uint64_t)0 - (uint64_t)v);
        return;
    }
    ft_json_put_u64(s, (uint64_t)v);
}

void
ft_json_put_fixed(ft_sbuf *s, uint64_t units, unsigned decimals)
{
    uint64_t scale = 1;
    for (unsigned i = 0; i < decimals; i++) {
        scale *= 10;
    }
    ft_json_put_u64(s, units / scale);
    if (decimals == 0) {
        return;
    }
    char frac[24];
    uint64_t f = units % scale;
    for (unsigned i = decimals; i > 0; i--) {
        frac[i] = (char)('0' + f % 10);
        f /= 10;
    }
    frac[0] = '.';
    ft_sbuf_put(s, frac, decimals + 1);
}

int
ft_json_put_payload(ft_sbuf *s, const ft_threadbuf *tb, uint32_t payload)
{
    switch (payload) {
    case FT_VAL_PYNONE:
        ft_sbuf_puts(s, "\"None\"");
        return 0;
    case FT_VAL_FALSE:
        ft_sbuf_puts(s, "\"False\"");
        return 0;
    case FT_VAL_TRUE:
        ft_sbuf_puts(s, "\"True\"");
        return 0;
    default:
        break;
    }
    if (ft_val_is_inline_int(payload)) {
        ft_sbuf_put(s, "\"", 1);
        ft_json_put_i64(s, ft_val_inline_int(payload));
        ft_sbuf_put(s, "\"", 1);
        return 0;
    }
    PyObject *text = ft_value_text(tb, payload);
    if (text == NULL) {
        if (PyErr_Occurred()) {
            return -1;
        }
        ft_sbuf_puts(s, "null");
        return 0;
    }
    ft_json_put_str(s, text);
    Py_DECREF(text);
    return 0;
}

void
ft_json_put_node_flags(ft_sbuf *s, unsigned flags)
{
    if (flags & FT_NF_LEFT_SUSPENDED) {
        ft_sbuf_puts(s, ",\"left_suspended\":true");
    }
    if (flags & FT_NF_BEGAN_BEFORE) {
        ft_sbuf_puts(s, ",\"began_before\":true");
    }
    if (flags & FT_NF_CUT) {
        ft_sbuf_puts(s, ",\"cut\":true");
    }
}
