/* write_json.h - a whole trace as FlowTrace JSON (docs/json-format.md). */
#ifndef FLOWTRACE_WRITE_JSON_H
#define FLOWTRACE_WRITE_JSON_H

#include "python/trace.h"

#define FT_JSON_FORMAT "flowtrace"
#define FT_JSON_VERSION 1

/* Stream `t` to `file` (.write(bytes) when binary, else .write(str)).
 * `meta`: borrowed str holding a JSON object, or NULL. 0 or -1. */
int ft_write_json(ft_trace *t, PyObject *file, int binary, PyObject *meta);

/* Number of FT_NODE_* kinds and FT_END_* ends (trace.h). */
#define FT_NODE_NKINDS 7
#define FT_END_NENDS 5

/* Names of node kinds and ends, as in CallEvent (shared by the writers
 * and the loader): static strings, NULL for a number out of range. */
const char *ft_node_kind_name(unsigned kind);
const char *ft_node_end_name(unsigned end);

#endif
