/* clock.h - the cheapest monotonic timestamp, converted when read.
 *
 * On x86-64 with an invariant TSC the recorder stores raw TSC ticks (one
 * instruction, no system call, no vDSO); elsewhere CLOCK_MONOTONIC
 * nanoseconds. A trace converts its ticks to seconds with the ratio
 * measured between the first session's start and its own stop.
 */
#ifndef FLOWTRACE_CLOCK_H
#define FLOWTRACE_CLOCK_H

#include <Python.h> /* first: it sets the POSIX feature macros */
#include <stdint.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <x86intrin.h>
#define FT_HAVE_TSC 1
#endif

#include <time.h>

/* Chosen once at module init (ft_clock_init): a property of the machine,
 * the same for every interpreter of the process, hence a plain global. */
extern int ft_clock_use_tsc;

void ft_clock_init(void);

/* Raw ticks (TSC) or nanoseconds. */
static inline uint64_t
ft_now_ticks(void)
{
#ifdef FT_HAVE_TSC
    if (ft_clock_use_tsc) {
        return (uint64_t)__rdtsc();
    }
#endif
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC in nanoseconds (for calibration). */
uint64_t ft_clock_ns(void);

#endif
