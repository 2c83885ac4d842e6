/*
 * err.h - the one error shape of the C core.
 * Functions return 0 or a negative ENG_E* code and, when given a struct eng_err, fill it with a
 * full sentence a user can act on. No error text ever carries a secret.
 */
#ifndef ENG_ERR_H
#define ENG_ERR_H

enum eng_errcode {
    ENG_OK = 0,
    ENG_EINVAL = -1,    /* bad input from a caller or a user */
    ENG_ENOMEM = -2,    /* allocation refused (includes a script's memory cap) */
    ENG_EIO = -3,       /* file, socket or database failure */
    ENG_EBUDGET = -4,   /* a script ran out of its time/instruction budget */
    ENG_ESCRIPT = -5,   /* a script raised an error or returned the wrong shape */
    ENG_ENOTFOUND = -6, /* no such file, mapping, row */
    ENG_EAUTH = -7,     /* signature or authentication failure */
    ENG_EBUSY = -8,     /* database busy / resource locked */
    ENG_ETIMEOUT = -9,  /* a remote call timed out */
    ENG_EEXIST = -10,   /* already exists / conflict */
};

struct eng_err {
    int code;
    char msg[1024];
};

/* Fill err (if not NULL) with code and a printf-style message; returns code. */
int eng_err_set(struct eng_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Human name of a code ("EINVAL"...), static storage. */
const char *eng_err_name(int code);

#endif
