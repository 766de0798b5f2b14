/* jsonbuf.h - JSON pieces on an ft_sbuf, and a sink that streams the
 * buffer to a Python file object. Shared by the JSON and Chrome writers. */
#ifndef FLOWTRACE_JSONBUF_H
#define FLOWTRACE_JSONBUF_H

#include <Python.h>
#include <stdint.h>

#include "recording/buffer.h"
#include "common/sbuf.h"

#define FT_SINK_FLUSH_AT (256 * 1024)

/* Where a writer's text goes: file.write(bytes) or file.write(str). */
typedef struct {
    PyObject *write; /* owned: the file's bound write method */
    int binary;      /* 1: write bytes (UTF-8), 0: write str */
    ft_sbuf out;     /* owned: pending UTF-8 text */
} ft_sink;

int ft_sink_open(ft_sink *k, PyObject *file, int binary);
/* Send what is pending. 0 or -1 with an exception. */
int ft_sink_flush(ft_sink *k);
/* Flush when the buffer is big enough: call after each item. */
static inline int
ft_sink_maybe_flush(ft_sink *k)
{
    return k->out.len >= FT_SINK_FLUSH_AT || k->out.oom ? ft_sink_flush(k) : 0;
}
void ft_sink_close(ft_sink *k);

/* A JSON string literal (with quotes) of UTF-8 bytes / of a str. */
void ft_json_put_utf8(ft_sbuf *s, const char *p, size_t n);
void ft_json_put_str(ft_sbuf *s, PyObject *str);
/* Integers and a fixed-point number with `decimals` digits. */
void ft_json_put_i64(ft_sbuf *s, int64_t v);
void ft_json_put_u64(ft_sbuf *s, uint64_t v);
/* The set FT_NF_* flags of a node as `,"name":true` keys. */
void ft_json_put_node_flags(ft_sbuf *s, unsigned flags);
void ft_json_put_fixed(ft_sbuf *s, uint64_t units, unsigned decimals);
/* The display text of a value payload as a JSON string (None, booleans and
 * small ints without making a Python object). 0, or -1 with an exception. */
int ft_json_put_payload(ft_sbuf *s, const ft_threadbuf *tb, uint32_t payload);

#endif
