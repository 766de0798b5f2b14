/* write_json.h - a whole trace as FlowTrace JSON (docs/json-format.md). */
#ifndef FLOWTRACE_WRITE_JSON_H
#define FLOWTRACE_WRITE_JSON_H

#include "tree/tree.h"

#define FT_JSON_FORMAT "flowtrace"
#define FT_JSON_VERSION 1

/* Stream `t` to `file` (.write(bytes) when binary, else .write(str)).
 * `meta`: borrowed str holding a JSON object, or NULL. 0 or -1. */
int ft_write_json(const ft_tree *t, PyObject *file, int binary, PyObject *meta);

#endif
