/*
 * test_keyring.c - unit tier for engine/data/keyring.c: parsing INTEGRATION_ENCRYPTION_KEY (+
 * _PREVIOUS) and named keys, error texts that name variables and entries but never a key, key ids
 * computed independently, whitespace and duplicates, and the raw-key lookups the vault seals with.
 * Owns nothing (no files).
 */
#include "vault_fixture.h"
#include "data/keyring.h"

/* ---- keyring ---- */

static void test_keyring_missing_and_malformed(void)
{
    struct eng_keyring *kr = (struct eng_keyring *)1;
    struct eng_err err = {0};

    CHECK_INT(eng_keyring_parse(NULL, NULL, &kr, &err), ENG_EINVAL);
    CHECK(kr == NULL);
    CHECK(strstr(err.msg, "INTEGRATION_ENCRYPTION_KEY is not set") != NULL);
    CHECK(strstr(err.msg, "tallysync keygen") != NULL);
    CHECK_INT(eng_keyring_parse(" \t\n", NULL, &kr, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "is not set") != NULL);

    CHECK_INT(eng_keyring_parse("not base64 at all!", NULL, &kr, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "INTEGRATION_ENCRYPTION_KEY is not valid base64") != NULL);
    CHECK(strstr(err.msg, "not base64 at all") == NULL);
    /* base64url of a 32-byte key is not the standard alphabet */
    CHECK_INT(eng_keyring_parse("-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_8=", NULL, &kr, &err),
              ENG_EINVAL);
    CHECK(strstr(err.msg, "not valid base64") != NULL);

    const char *k31 = key_b64(0x31, 31, 3);
    CHECK_INT(eng_keyring_parse(k31, NULL, &kr, &err), ENG_EINVAL);
    CHECK_STR(err.msg, "INTEGRATION_ENCRYPTION_KEY must be base64 of 32 bytes (got 31 bytes)");
    const char *k33 = key_b64(0x33, 33, 3);
    CHECK_INT(eng_keyring_parse(k33, NULL, &kr, &err), ENG_EINVAL);
    CHECK_STR(err.msg, "INTEGRATION_ENCRYPTION_KEY must be base64 of 32 bytes (got 33 bytes)");
    CHECK(strstr(err.msg, k33) == NULL);
    CHECK(kr == NULL);

    /* a bad previous entry is named by position, never shown */
    char prev[256];
    snprintf(prev, sizeof prev, "%s,%s", KEY_B, key_b64(0x31, 31, 3));
    CHECK_INT(eng_keyring_parse(KEY_A, prev, &kr, &err), ENG_EINVAL);
    CHECK_STR(err.msg,
              "INTEGRATION_ENCRYPTION_KEY_PREVIOUS entry 2 must be base64 of 32 bytes (got 31 "
              "bytes)");
    CHECK(strstr(err.msg, KEY_A) == NULL && strstr(err.msg, KEY_B) == NULL);
    CHECK(kr == NULL);

    /* the named form, as rotate-key uses it */
    CHECK_INT(eng_keyring_parse_named("NEW_KEY", NULL, NULL, NULL, &kr, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "NEW_KEY is not set") != NULL);
    CHECK_INT(eng_keyring_parse_named("NEW_KEY", "@@@@", NULL, NULL, &kr, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "NEW_KEY is not valid base64") != NULL);
}

static void test_keyring_ids_whitespace_previous(void)
{
    char ida[17], idb[17], idc[17];
    expected_id(0xA1, ida);
    expected_id(0xB2, idb);
    expected_id(0xC3, idc);

    struct eng_keyring *kr = ring(KEY_A, NULL);
    REQUIRE(kr != NULL);
    CHECK_STR(eng_keyring_current_id(kr), ida);
    CHECK_INT(strlen(eng_keyring_current_id(kr)), 16);
    CHECK_INT(eng_keyring_count(kr), 1);
    eng_keyring_free(kr);

    char padded[256];
    snprintf(padded, sizeof padded, " \t%s\r\n", KEY_A);
    kr = ring(padded, "");
    REQUIRE(kr != NULL);
    CHECK_STR(eng_keyring_current_id(kr), ida);
    eng_keyring_free(kr);

    /* empty items skipped, whitespace trimmed, duplicates (also of the current key) dropped */
    char prev[1024];
    snprintf(prev, sizeof prev, " %s , ,%s,%s ,%s,", KEY_B, KEY_C, KEY_B, KEY_A);
    kr = ring(KEY_A, prev);
    REQUIRE(kr != NULL);
    CHECK_INT(eng_keyring_count(kr), 3);
    CHECK_STR(eng_keyring_current_id(kr), ida);
    CHECK(eng_keyring_has(kr, ida) && eng_keyring_has(kr, idb) && eng_keyring_has(kr, idc));
    CHECK(!eng_keyring_has(kr, "0000000000000000"));
    eng_keyring_free(kr);
    eng_keyring_free(NULL);

    /* from the environment */
    struct eng_err err = {0};
    unsetenv("INTEGRATION_ENCRYPTION_KEY");
    unsetenv("INTEGRATION_ENCRYPTION_KEY_PREVIOUS");
    CHECK_INT(eng_keyring_from_env(&kr, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "is not set") != NULL);
    setenv("INTEGRATION_ENCRYPTION_KEY", padded, 1);
    setenv("INTEGRATION_ENCRYPTION_KEY_PREVIOUS", KEY_B, 1);
    CHECK_INT(eng_keyring_from_env(&kr, &err), 0);
    REQUIRE(kr != NULL);
    CHECK_STR(eng_keyring_current_id(kr), ida);
    CHECK(eng_keyring_has(kr, idb));
    eng_keyring_free(kr);
    unsetenv("INTEGRATION_ENCRYPTION_KEY");
    unsetenv("INTEGRATION_ENCRYPTION_KEY_PREVIOUS");
}

/* The bytes the vault seals with are the decoded keys, found by their ids. */
static void test_keyring_lookup(void)
{
    char ida[17], idb[17], idc[17];
    expected_id(0xA1, ida);
    expected_id(0xB2, idb);
    expected_id(0xC3, idc);
    unsigned char a[32], b[32];
    memset(a, 0xA1, sizeof a);
    memset(b, 0xB2, sizeof b);

    struct eng_keyring *kr = ring(KEY_A, KEY_B);
    REQUIRE(kr != NULL);
    const unsigned char *cur = eng_keyring_current_key(kr);
    REQUIRE(cur != NULL);
    CHECK(memcmp(cur, a, 32) == 0);
    CHECK(eng_keyring_find(kr, ida) == cur);
    const unsigned char *prev = eng_keyring_find(kr, idb);
    REQUIRE(prev != NULL);
    CHECK(memcmp(prev, b, 32) == 0);
    CHECK(eng_keyring_find(kr, idc) == NULL);
    CHECK(eng_keyring_find(kr, "") == NULL);
    CHECK(eng_keyring_find(NULL, ida) == NULL);
    eng_keyring_free(kr);

    /* a previous key equal to the current one is dropped: the current key stays first */
    kr = ring(KEY_B, KEY_B);
    REQUIRE(kr != NULL);
    CHECK_INT(eng_keyring_count(kr), 1);
    CHECK_STR(eng_keyring_current_id(kr), idb);
    CHECK(memcmp(eng_keyring_current_key(kr), b, 32) == 0);
    eng_keyring_free(kr);
}

/* Entries are numbered by position in the list, empty ones included, so the operator can find
 * the bad one; the text of a bad entry is never shown. */
static void test_keyring_entry_numbers(void)
{
    struct eng_keyring *kr = NULL;
    struct eng_err err = {0};
    char prev[256];
    snprintf(prev, sizeof prev, ", ,%s,not-a-key!", KEY_B);
    CHECK_INT(eng_keyring_parse(KEY_A, prev, &kr, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "INTEGRATION_ENCRYPTION_KEY_PREVIOUS entry 4 is not valid base64") !=
          NULL);
    CHECK(strstr(err.msg, "not-a-key") == NULL);
    CHECK(kr == NULL);

    /* the named form names the previous variable as given */
    CHECK_INT(eng_keyring_parse_named("NEW", KEY_A, "OLD", "@@", &kr, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "OLD entry 1 is not valid base64") != NULL);
    CHECK(kr == NULL);
}

CHECK_MAIN(CHECK_CASE(test_keyring_missing_and_malformed),
           CHECK_CASE(test_keyring_ids_whitespace_previous), CHECK_CASE(test_keyring_lookup),
           CHECK_CASE(test_keyring_entry_numbers))
