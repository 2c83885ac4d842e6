/*
 * httpc_load.c - libcurl, loaded on first use. The engine is not linked against libcurl: these
 * are the libcurl functions httpc.c calls, with libcurl's own prototypes (curl.h), each
 * resolving its target in libcurl.so.4 the first time any of them is called (dlopen, once per
 * process). A process that makes no outbound request (an idle `serve`, most CLI commands)
 * never maps libcurl and the thirty-odd libraries it needs (OpenSSL, GnuTLS's helpers, Kerberos,
 * LDAP, SSH, ...): about 3.4 MB of resident memory and their relocation at exec.
 * Owns: the library handle (never closed) and the resolved pointers.
 * Must not: be called for anything but what httpc.c needs; a libcurl that cannot be loaded is
 * an error of the call (curl_global_init answers CURLE_FAILED_INIT and curl_easy_strerror says
 * why), never an abort.
 */
#define CURL_DISABLE_TYPECHECK /* curl_easy_setopt/getinfo are defined here, not macros */
#include <curl/curl.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef ENG_LIBCURL_SONAME
#define ENG_LIBCURL_SONAME "libcurl.so.4"
#endif

/* The pointers, each of libcurl's exact type. */
static struct {
    void *lib;
    char why[256]; /* dlopen's or dlsym's error when lib is NULL */
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    void (*free_)(void *);
    time_t (*getdate)(const char *, const time_t *);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    CURLU *(*url)(void);
    void (*url_cleanup)(CURLU *);
    CURLUcode (*url_get)(CURLU *, CURLUPart, char **, unsigned int);
    CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
    const char *(*url_strerror)(CURLUcode);
    curl_version_info_data *(*version_info)(CURLversion);
} lc;

static pthread_once_t lc_once = PTHREAD_ONCE_INIT;

/* dlsym into a typed pointer (POSIX guarantees the data/function pointer round trip). */
#define LC_SYM(field, name)                                                                        \
    do {                                                                                           \
        void *p_ = dlsym(lib, name);                                                               \
        if (p_ == NULL) {                                                                          \
            snprintf(lc.why, sizeof lc.why, "%s has no %s", ENG_LIBCURL_SONAME, name);             \
            return;                                                                                \
        }                                                                                          \
        memcpy(&lc.field, &p_, sizeof p_);                                                         \
    } while (0)

static void lc_load(void)
{
    void *lib = dlopen(ENG_LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        const char *e = dlerror();
        snprintf(lc.why, sizeof lc.why, "cannot load %s: %s", ENG_LIBCURL_SONAME,
                 e != NULL ? e : "unknown error");
        return;
    }
    LC_SYM(global_init, "curl_global_init");
    LC_SYM(easy_init, "curl_easy_init");
    LC_SYM(easy_cleanup, "curl_easy_cleanup");
    LC_SYM(easy_reset, "curl_easy_reset");
    LC_SYM(easy_perform, "curl_easy_perform");
    LC_SYM(easy_setopt, "curl_easy_setopt");
    LC_SYM(easy_getinfo, "curl_easy_getinfo");
    LC_SYM(easy_strerror, "curl_easy_strerror");
    LC_SYM(free_, "curl_free");
    LC_SYM(getdate, "curl_getdate");
    LC_SYM(slist_append, "curl_slist_append");
    LC_SYM(slist_free_all, "curl_slist_free_all");
    LC_SYM(url, "curl_url");
    LC_SYM(url_cleanup, "curl_url_cleanup");
    LC_SYM(url_get, "curl_url_get");
    LC_SYM(url_set, "curl_url_set");
    LC_SYM(url_strerror, "curl_url_strerror");
    LC_SYM(version_info, "curl_version_info");
    lc.lib = lib; /* every symbol is there: the library is usable (and stays loaded) */
}

/* 1 when libcurl is loaded (loading it on the first call). */
static int lc_ready(void)
{
    pthread_once(&lc_once, lc_load);
    return lc.lib != NULL;
}

CURLcode curl_global_init(long flags)
{
    return lc_ready() ? lc.global_init(flags) : CURLE_FAILED_INIT;
}

CURL *curl_easy_init(void)
{
    return lc_ready() ? lc.easy_init() : NULL;
}

void curl_easy_cleanup(CURL *curl)
{
    if (curl != NULL && lc_ready())
        lc.easy_cleanup(curl);
}

void curl_easy_reset(CURL *curl)
{
    if (curl != NULL && lc_ready())
        lc.easy_reset(curl);
}

CURLcode curl_easy_perform(CURL *curl)
{
    return lc_ready() ? lc.easy_perform(curl) : CURLE_FAILED_INIT;
}

/* The one argument after the option is passed on with the type its option number says
 * (curl.h: CURLOPTTYPE_*). */
CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
    if (!lc_ready())
        return CURLE_FAILED_INIT;
    va_list ap;
    va_start(ap, option);
    CURLcode rc;
    int o = (int)option;
    if (o < CURLOPTTYPE_OBJECTPOINT) {
        long v = va_arg(ap, long);
        rc = lc.easy_setopt(curl, option, v);
    } else if (o < CURLOPTTYPE_FUNCTIONPOINT) {
        void *v = va_arg(ap, void *);
        rc = lc.easy_setopt(curl, option, v);
    } else if (o < CURLOPTTYPE_OFF_T) {
        void (*v)(void) = va_arg(ap, void (*)(void));
        rc = lc.easy_setopt(curl, option, v);
    } else if (o < CURLOPTTYPE_BLOB) {
        curl_off_t v = va_arg(ap, curl_off_t);
        rc = lc.easy_setopt(curl, option, v);
    } else {
        void *v = va_arg(ap, void *);
        rc = lc.easy_setopt(curl, option, v);
    }
    va_end(ap);
    return rc;
}

/* Every CURLINFO takes a pointer to where the answer goes. */
CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
    if (!lc_ready())
        return CURLE_FAILED_INIT;
    va_list ap;
    va_start(ap, info);
    void *p = va_arg(ap, void *);
    va_end(ap);
    return lc.easy_getinfo(curl, info, p);
}

const char *curl_easy_strerror(CURLcode code)
{
    if (lc_ready())
        return lc.easy_strerror(code);
    return lc.why;
}

void curl_free(void *p)
{
    if (p != NULL && lc_ready())
        lc.free_(p);
}

time_t curl_getdate(const char *p, const time_t *unused)
{
    return lc_ready() ? lc.getdate(p, unused) : (time_t)-1;
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *data)
{
    return lc_ready() ? lc.slist_append(list, data) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
    if (list != NULL && lc_ready())
        lc.slist_free_all(list);
}

CURLU *curl_url(void)
{
    return lc_ready() ? lc.url() : NULL;
}

void curl_url_cleanup(CURLU *handle)
{
    if (handle != NULL && lc_ready())
        lc.url_cleanup(handle);
}

CURLUcode curl_url_get(CURLU *handle, CURLUPart what, char **part, unsigned int flags)
{
    return lc_ready() ? lc.url_get(handle, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

CURLUcode curl_url_set(CURLU *handle, CURLUPart what, const char *part, unsigned int flags)
{
    return lc_ready() ? lc.url_set(handle, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

const char *curl_url_strerror(CURLUcode code)
{
    return lc_ready() ? lc.url_strerror(code) : lc.why;
}

curl_version_info_data *curl_version_info(CURLversion age)
{
    /* without the library, `tallysync version` prints why instead of a version */
    static curl_version_info_data none = {.age = CURLVERSION_NOW, .version = lc.why};
    return lc_ready() ? lc.version_info(age) : &none;
}
