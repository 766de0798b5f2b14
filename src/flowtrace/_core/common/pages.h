/* pages.h - giving memory that was read once back to the system. */
#ifndef FLOWTRACE_PAGES_H
#define FLOWTRACE_PAGES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* The whole pages inside [p, p + n) leave this process's memory: a file
 * mapping's are read again from the file if touched, anonymous memory's
 * come back as zeros. Only for bytes never needed again (or mapped from a
 * file). */
static inline void
ft_give_pages_back(const void *p, size_t n)
{
#if defined(MADV_DONTNEED)
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t b = ((uintptr_t)p + n) & ~(page - 1);
    if (n > 0 && b > a) {
        (void)madvise((void *)a, b - a, MADV_DONTNEED);
    }
#else
    (void)p;
    (void)n;
#endif
}

#endif
