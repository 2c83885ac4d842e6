/*
 * test_scheduler.c - cron expressions of engine/flow/scheduler.c: parsing (errors name the field)
 * and the next matching minute, checked against dates worked out by hand (UTC).
 */
#include <string.h>
#include <time.h>

#include "check.h"
#include "flow/sync.h"

/* Unix seconds of a UTC date. */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return (int64_t)timegm(&tm);
}

static int64_t next_of(const char *expr, int64_t after)
{
    struct eng_cron c;
    struct eng_err err = {0};
    if (eng_scheduler_cron_parse(expr, &c, &err) != 0) {
        fprintf(stderr, "parse %s: %s\n", expr, err.msg);
        return -2;
    }
    return eng_scheduler_cron_next(&c, after);
}

static void test_next(void)
{
    int64_t t = utc(2026, 11, 26, 10, 7); /* a Thursday */
    CHECK_INT(next_of("* * * * *", t), utc(2026, 11, 26, 10, 8));
    CHECK_INT(next_of("*/15 * * * *", t), utc(2026, 11, 26, 10, 15));
    CHECK_INT(next_of("0 * * * *", t), utc(2026, 11, 26, 11, 0));
    CHECK_INT(next_of("@daily", t), utc(2026, 11, 27, 0, 0));
    CHECK_INT(next_of("30 2 * * *", t), utc(2026, 11, 27, 2, 30));
    CHECK_INT(next_of("0 9 * * 1", t), utc(2026, 11, 30, 9, 0)); /* next Monday */
    CHECK_INT(next_of("0 0 * * 7", t), utc(2026, 11, 29, 0, 0)); /* Sunday as 7 */
    CHECK_INT(next_of("0 0 1 * *", t), utc(2026, 12, 1, 0, 0));
    CHECK_INT(next_of("0 0 29 2 *", t), utc(2028, 2, 29, 0, 0)); /* leap day */
    CHECK_INT(next_of("5-10/5 8,20 * * *", t), utc(2026, 11, 26, 20, 5));
    /* both day fields restricted: either matches (cron's rule) */
    CHECK_INT(next_of("0 0 15 * 5", t), utc(2026, 11, 27, 0, 0));
    /* strictly after: at a matching minute, the next one */
    CHECK_INT(next_of("7 10 * * *", t), utc(2026, 11, 27, 10, 7));
    CHECK_INT(next_of("0 0 31 2 *", t), -1); /* never */
}

static void test_parse_errors(void)
{
    struct eng_cron c;
    struct eng_err err = {0};
    CHECK_INT(eng_scheduler_cron_parse("60 * * * *", &c, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "minute") != NULL);
    CHECK_INT(eng_scheduler_cron_parse("* 24 * * *", &c, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "hour") != NULL);
    CHECK_INT(eng_scheduler_cron_parse("* * 0 * *", &c, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "day of month") != NULL);
    CHECK_INT(eng_scheduler_cron_parse("* * * 13 *", &c, &err), ENG_EINVAL);
    CHECK_INT(eng_scheduler_cron_parse("* * * * 8", &c, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "day of week") != NULL);
    CHECK_INT(eng_scheduler_cron_parse("* * * *", &c, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "5 fields") != NULL);
    CHECK_INT(eng_scheduler_cron_parse("* * * * * *", &c, &err), ENG_EINVAL);
    CHECK_INT(eng_scheduler_cron_parse("*/0 * * * *", &c, &err), ENG_EINVAL);
    CHECK_INT(eng_scheduler_cron_parse("5-1 * * * *", &c, &err), ENG_EINVAL);
    CHECK_INT(eng_scheduler_cron_parse("1, * * * *", &c, &err), ENG_EINVAL);
    CHECK_INT(eng_scheduler_cron_parse("a * * * *", &c, &err), ENG_EINVAL);
    CHECK_INT(eng_scheduler_cron_parse("", &c, &err), ENG_EINVAL);
}

CHECK_MAIN(CHECK_CASE(test_next), CHECK_CASE(test_parse_errors))
