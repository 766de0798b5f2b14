/*
 * cgmark.c -- switch callgrind's instrumentation on from Python (via ctypes).
 *
 * Part of the FlowTrace benchmark (bench/callgrind.py), not of the package.
 * callgrind.py runs its child under `valgrind --tool=callgrind
 * --instr-atstart=no`, so interpreter start-up and imports run uninstrumented
 * (about 4x faster), and calls cgmark_start() once everything is imported.
 * Outside valgrind the client request is a no-op.
 *
 * Build: cc -O2 -shared -fPIC cgmark.c -o cgmark.so (needs valgrind's headers).
 */
#include <valgrind/callgrind.h>

void
cgmark_start(void)
{
    CALLGRIND_START_INSTRUMENTATION;
}

int
cgmark_running_on_valgrind(void)
{
    return (int)RUNNING_ON_VALGRIND;
}
