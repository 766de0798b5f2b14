/* ftrace_format.h - the constants of the .ftrace file, shared by its
 * writer (output/write_ftrace.c) and its loader (tree/load_ftrace.c); the
 * layout is docs/ftrace-format.md. */
#ifndef FLOWTRACE_FTRACE_FORMAT_H
#define FLOWTRACE_FTRACE_FORMAT_H

#define FTRACE_MAGIC "\x89" "FTR\r\n\x1a\n" /* 8 bytes */
#define FTRACE_VERSION 1u
#define FTRACE_HEADER 32u          /* bytes of the header */
#define FTRACE_FLAGS 15u           /* the flags this version knows */
#define NONE_TEXT 0xFFFFFFFFu      /* a text index meaning "none" */
#define FTRACE_SKIP 0xFFFFFFFEu    /* CODES: a run of codes never recorded */

enum { BLOCK_TEXTS = 1, BLOCK_CODES = 2, BLOCK_THREAD = 3, BLOCK_END = 4 };

#endif
