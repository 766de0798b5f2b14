/* clock.c - choosing the timestamp source (see clock.h). */
#include "recording/clock.h"

#ifdef FT_HAVE_TSC
#include <cpuid.h>
#endif

int ft_clock_use_tsc = 0;

void
ft_clock_init(void)
{
#ifdef FT_HAVE_TSC
    unsigned a, b, c, d;
    /* CPUID 0x80000007 EDX bit 8: the TSC runs at a constant rate in all
     * power states, across cores: usable as a clock. */
    if (__get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8))) {
        ft_clock_use_tsc = 1;
    }
#endif
}

uint64_t
ft_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
