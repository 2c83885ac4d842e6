/* err.c - filling struct eng_err. Owns nothing. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>

int eng_err_set(struct eng_err *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *eng_err_name(int code)
{
    switch (code) {
    case ENG_OK:
        return "OK";
    case ENG_EINVAL:
        return "EINVAL";
    case ENG_ENOMEM:
        return "ENOMEM";
    case ENG_EIO:
        return "EIO";
    case ENG_EBUDGET:
        return "EBUDGET";
    case ENG_ESCRIPT:
        return "ESCRIPT";
    case ENG_ENOTFOUND:
        return "ENOTFOUND";
    case ENG_EAUTH:
        return "EAUTH";
    case ENG_EBUSY:
        return "EBUSY";
    case ENG_ETIMEOUT:
        return "ETIMEOUT";
    case ENG_EEXIST:
        return "EEXIST";
    default:
        return "EUNKNOWN";
    }
}
