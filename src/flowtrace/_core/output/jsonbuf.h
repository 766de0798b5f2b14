/* jsonbuf.h - JSON pieces on an ft_sbuf: string escaping, numbers, node
 * flags and value payloads. Shared by the JSON and Chrome writers, which
 * stream the text through an ft_sink (sink.h). */
#ifndef FLOWTRACE_JSONBUF_H
#define FLOWTRACE_JSONBUF_H

#include <Python.h>
#include <stdint.h>

#include "recording/buffer.h"
#include "common/sbuf.h"

/* A JSON string literal (with quotes) of UTF-8 bytes / of a str. */
void ft_json_put_utf8(ft_sbuf *s, const char *p, size_t n);
void ft_json_put_str(ft_sbuf *s, PyObject *str);
/* The same, with <, > and & escaped too: safe inside an HTML <script>. */
void ft_json_put_str_html(ft_sbuf *s, PyObject *str);
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
