/* write_viewer.h - the data of the viewer's page: the tree as columns and
 * a string table (docs/viewer.md). */
#ifndef FLOWTRACE_WRITE_VIEWER_H
#define FLOWTRACE_WRITE_VIEWER_H

#include "output/viewer_select.h"
#include "tree/tree.h"

#define FT_VIEWER_FORMAT "flowtrace-viewer"
#define FT_VIEWER_VERSION 1

/* Stream the data of `t` to `file` (.write(bytes) when binary, else
 * .write(str)), every string safe inside an HTML <script> element: every
 * node, or those `view` holds (NULL: every node). The files of the
 * functions written (a new list of str, for the page's sources), or NULL
 * with an exception. */
PyObject *ft_write_viewer(const ft_tree *t, PyObject *file, int binary, const ft_view *view);

#endif
