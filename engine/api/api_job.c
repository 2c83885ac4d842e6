/*
 * api_job.c - the one way a route finishes on a worker (api.h: eng_api_job_*): a job carries
 * the request, the tenant, the route's own state and the answer; a worker runs it with its VM
 * and its thread's store connection, the server resumes the request, and the handler answers.
 * Owns: each job, from eng_api_job_start until the request is freed (eng_httpd_set_state).
 * Must not: touch a VM itself (the run function hands it to flow/); answer a secret.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "adapt/store.h"
#include "base/log.h"
#include "flow/worker.h"

struct job {
    struct eng_task task; /* first: the worker hands us back this pointer */
    struct eng_api_job pub;
    eng_api_job_fn run;
    unsigned flags;
    const char *shutting_down, *no_store;
    char what[96]; /* the route, for a stuck worker's report (flow/worker.h) */
};

void eng_api_job_fail(struct eng_api_job *j, int status, const char *code, const char *message)
{
    j->status = status;
    snprintf(j->code, sizeof j->code, "%s", code);
    snprintf(j->message, sizeof j->message, "%.500s", message);
}

static void job_run(struct eng_task *t, struct eng_vm *vm)
{
    struct job *k = (struct job *)t;
    struct eng_api_job *j = &k->pub;
    if (vm == NULL) {
        eng_api_job_fail(j, 503, "unavailable", k->shutting_down);
        return;
    }
    struct eng_store *st = NULL;
    if (!(k->flags & ENG_API_JOB_NO_STORE)) {
        struct eng_err err = {0};
        st = eng_store_thread(j->cfg->database_url, &err);
        if (st == NULL) {
            eng_logf(ENG_LOG_ERROR, "api: a worker cannot open the store: %s", err.msg);
            eng_api_job_fail(j, 503, "unavailable", k->no_store);
            return;
        }
    }
    k->run(j, vm, st);
}

static void job_done(struct eng_task *t)
{
    eng_httpd_resume(((struct job *)t)->pub.req);
}

static void job_free(void *p)
{
    struct job *k = p;
    if (k->pub.arg_free != NULL)
        k->pub.arg_free(k->pub.arg);
    eng_buf_free(&k->pub.details);
    eng_buf_free(&k->pub.body);
    free(k);
}

int eng_api_job_start(struct eng_api_ctx *c, const struct eng_api_job_opts *o)
{
    struct job *k = calloc(1, sizeof *k);
    if (k == NULL) {
        if (o->arg_free != NULL)
            o->arg_free(o->arg);
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    }
    k->task.run = job_run;
    k->task.done = job_done;
    k->task.tenant = k->pub.tenant;
    if (c->route != NULL) {
        snprintf(k->what, sizeof k->what, "%s %s", c->route->method, c->route->pattern);
        k->task.what = k->what;
    }
    k->run = o->run;
    k->flags = o->flags;
    k->shutting_down = o->shutting_down != NULL ? o->shutting_down : "the engine is shutting down";
    k->no_store = o->no_store != NULL ? o->no_store : "the store is not reachable; retry shortly";
    struct eng_api_job *j = &k->pub;
    j->req = c->req;
    j->cfg = c->api->cfg;
    j->keys = c->api->keys;
    snprintf(j->tenant, sizeof j->tenant, "%s", o->tenant != NULL ? o->tenant : c->tenant);
    j->arg = o->arg;
    j->arg_free = o->arg_free;
    eng_buf_init(&j->details);
    eng_buf_init(&j->body);
    eng_httpd_set_state(c->req, k, job_free);
    if (eng_workers_submit(c->api->workers, &k->task) != 0) {
        eng_httpd_resp_header(c->resp, "Retry-After", "1");
        return eng_api_error(c->resp, 503, "busy", "the workers' queue is full; retry shortly",
                             NULL);
    }
    return ENG_HTTPD_PENDING;
}

struct eng_api_job *eng_api_job_resumed(struct eng_api_ctx *c)
{
    struct job *k = eng_httpd_state(c->req);
    return k != NULL ? &k->pub : NULL;
}

int eng_api_job_finish(struct eng_api_ctx *c, struct eng_api_job *j)
{
    if (j->status >= 400) {
        struct eng_buf d;
        eng_buf_init(&d);
        if (j->details.len == 0 && j->field[0] != '\0') {
            eng_buf_puts(&d, "{\"field\":");
            eng_buf_json_str(&d, j->field, strlen(j->field));
            eng_buf_putc(&d, '}');
        }
        const struct eng_buf *use = j->details.len > 0 ? &j->details : &d;
        eng_api_error(c->resp, j->status, j->code, j->message,
                      use->len > 0 && !use->oom ? use->data : NULL);
        eng_buf_free(&d);
        return ENG_HTTPD_DONE;
    }
    if (j->body.oom)
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    c->resp->status = j->status != 0 ? j->status : 200;
    c->resp->content_type = j->content_type != NULL ? j->content_type : "application/json";
    eng_buf_reset(&c->resp->body);
    if (j->body.len > 0)
        eng_buf_append(&c->resp->body, j->body.data, j->body.len);
    else if (j->content_type == NULL)
        eng_buf_puts(&c->resp->body, "{}");
    return ENG_HTTPD_DONE;
}
