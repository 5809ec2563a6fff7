/*
 * INCRBYFLOAT (and HINCRBYFLOAT) arithmetic exactly as Redis 7.0 does it: parse both operands
 * with `strtold` under Redis's `string2ld` rules, add in C `long double`, and print the sum with
 * `ld2string(..., LD_STR_HUMAN)` (`%.17Lf`, trailing zeros trimmed). Rust has no `long double`,
 * so this is the one place that needs C. The result matches Redis built for the same platform
 * (80-bit extended on x86-64, binary128 on aarch64 Linux, double where long double is double).
 *
 * Copied in spirit from Redis's util.c (BSD-3-Clause); the process runs in the "C" locale, as
 * Redis does for LC_NUMERIC, so '.' is the decimal point.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Redis's MAX_LONG_DOUBLE_CHARS. */
#define PICKET_LD_MAX_CHARS (5 * 1024)

/* Return codes of picket_ld_add (a non-negative value is the length of the result). */
#define PICKET_LD_BAD_CURRENT (-1)
#define PICKET_LD_BAD_INCREMENT (-2)
#define PICKET_LD_NAN_OR_INF (-3)
#define PICKET_LD_NO_ROOM (-4)

/* Redis's string2ld: 1 and the value in *dp if `s` is a valid long double, else 0. */
static int picket_string2ld(const char *s, size_t slen, long double *dp) {
    char buf[PICKET_LD_MAX_CHARS];
    long double value;
    char *eptr;

    if (slen == 0 || slen >= sizeof(buf)) return 0;
    memcpy(buf, s, slen);
    buf[slen] = '\0';

    errno = 0;
    value = strtold(buf, &eptr);
    /* Redis 7.0 also requires the whole length to be consumed: an embedded NUL byte makes
     * the string invalid rather than ending it. */
    if (isspace((unsigned char)buf[0]) || eptr[0] != '\0' || (size_t)(eptr - buf) != slen ||
        (errno == ERANGE &&
         (value == HUGE_VAL || value == -HUGE_VAL || fpclassify(value) == FP_ZERO)) ||
        errno == EINVAL || isnan(value))
        return 0;

    *dp = value;
    return 1;
}

/* Redis's ld2string in LD_STR_HUMAN mode for a finite value: the length written to `buf`
 * (without the terminator), or 0 when it does not fit (Redis then stores an empty string). */
static int picket_ld2string_human(char *buf, size_t len, long double value) {
    int n = snprintf(buf, len, "%.17Lf", value);
    if (n < 0 || (size_t)n + 1 > len) return 0;
    size_t l = (size_t)n;
    /* Remove trailing zeroes after the '.' */
    if (strchr(buf, '.') != NULL) {
        char *p = buf + l - 1;
        while (*p == '0') {
            p--;
            l--;
        }
        if (*p == '.') l--;
    }
    if (l == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        l = 1;
    }
    buf[l] = '\0';
    return (int)l;
}

/*
 * current + increment, both given as byte strings (`current` may be NULL: a missing key counts
 * as 0). Writes the human-readable sum to `out` (at most `outlen` bytes with the terminator)
 * and returns its length, or one of the negative PICKET_LD_* codes.
 */
int picket_ld_add(const char *current, size_t current_len, const char *increment,
                  size_t increment_len, char *out, size_t outlen) {
    long double value = 0, incr;

    if (current != NULL && !picket_string2ld(current, current_len, &value))
        return PICKET_LD_BAD_CURRENT;
    if (!picket_string2ld(increment, increment_len, &incr)) return PICKET_LD_BAD_INCREMENT;
    value += incr;
    if (isnan(value) || isinf(value)) return PICKET_LD_NAN_OR_INF;
    if (outlen < PICKET_LD_MAX_CHARS) return PICKET_LD_NO_ROOM;
    return picket_ld2string_human(out, PICKET_LD_MAX_CHARS, value);
}

/*
 * A double printed as Redis's addReplyHumanLongDouble prints it (`%.17Lf` of the value as a
 * long double, trailing zeros trimmed): GEOPOS and WITHCOORD. Returns the length written to
 * `out` (without the terminator), 0 if it does not fit.
 */
int picket_double_human(double value, char *out, size_t outlen) {
    return picket_ld2string_human(out, outlen, (long double)value);
}
