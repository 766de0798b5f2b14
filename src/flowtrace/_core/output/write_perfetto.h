/* write_perfetto.h - Perfetto's native protobuf trace (write_perfetto.c). */
#ifndef FLOWTRACE_WRITE_PERFETTO_H
#define FLOWTRACE_WRITE_PERFETTO_H

#include "tree/tree.h"

/* Stream `t` (built) to `file` (.write(bytes)) as TracePackets: `pid` and
 * `process_name` (borrowed str or NULL) name the process's track. 0 or
 * -1 with an exception. */
int ft_write_perfetto(const ft_tree *t, PyObject *file, long pid, PyObject *process_name);

#endif
