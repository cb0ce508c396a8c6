/*
 * error.h — error codes to words, and the detail behind mn_errmsg().
 * mn_errmsg()'s thread-local detail
 * is set with error_set, which every failing public function calls once.
 */
#ifndef MN_UTIL_ERROR_H
#define MN_UTIL_ERROR_H

/* Records the detail of a failure for mn_errmsg() on this thread and returns
 * err, so that `return error_set(MN_EINVAL, "bad %s", x);` reads naturally. */
int error_set(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears the thread's message (start of a public call that may succeed). */
void error_clear(void);

#endif
