/*
 * policy.c - the published shop policy (see policy.h): default flows and webhook routes as the
 * scripts declare them. Owns: the current tables (one malloc'd block of fixed-size rows each),
 * swapped whole under the mutex by eng_policy_publish. Must not: run Lua or read files; return
 * a pointer into the tables.
 */
#include "base/policy.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

struct policy_default {
    char entity[ENG_POLICY_NAME_MAX + 1], flow[ENG_POLICY_NAME_MAX + 1],
        source[ENG_POLICY_NAME_MAX + 1];
};

struct policy_route {
    char source[ENG_POLICY_NAME_MAX + 1], resource[ENG_POLICY_NAME_MAX + 1],
        entity[ENG_POLICY_NAME_MAX + 1];
};

struct eng_policy {
    pthread_mutex_t mu;
    struct policy_default *defs; /* sorted by entity */
    size_t ndefs;
    struct policy_route *routes;
    size_t nroutes;
};

struct eng_policy *eng_policy_new(void)
{
    struct eng_policy *p = calloc(1, sizeof *p);
    if (p != NULL)
        pthread_mutex_init(&p->mu, NULL);
    return p;
}

void eng_policy_free(struct eng_policy *p)
{
    if (p == NULL)
        return;
    free(p->defs);
    free(p->routes);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* Copy s into a name slot; 0 when it does not fit (or is NULL). */
static int policy_name(char dst[ENG_POLICY_NAME_MAX + 1], const char *s)
{
    if (s == NULL || strlen(s) > ENG_POLICY_NAME_MAX)
        return 0;
    memcpy(dst, s, strlen(s) + 1);
    return 1;
}

static int policy_default_cmp(const void *a, const void *b)
{
    return strcmp(((const struct policy_default *)a)->entity,
                  ((const struct policy_default *)b)->entity);
}

int eng_policy_publish(struct eng_policy *p, const struct eng_policy_default *defs, size_t ndefs,
                       const struct eng_policy_route_decl *routes, size_t nroutes)
{
    struct policy_default *d = ndefs ? calloc(ndefs, sizeof *d) : NULL;
    struct policy_route *r = nroutes ? calloc(nroutes, sizeof *r) : NULL;
    if ((ndefs && d == NULL) || (nroutes && r == NULL)) {
        free(d);
        free(r);
        return ENG_ENOMEM;
    }
    size_t nd = 0, nr = 0;
    for (size_t i = 0; i < ndefs; i++)
        if (policy_name(d[nd].entity, defs[i].entity) && policy_name(d[nd].flow, defs[i].flow) &&
            policy_name(d[nd].source, defs[i].source != NULL ? defs[i].source : ""))
            nd++;
    for (size_t i = 0; i < nroutes; i++)
        if (policy_name(r[nr].source, routes[i].source) &&
            policy_name(r[nr].resource, routes[i].resource) &&
            policy_name(r[nr].entity, routes[i].entity))
            nr++;
    if (nd > 1)
        qsort(d, nd, sizeof *d, policy_default_cmp);
    pthread_mutex_lock(&p->mu);
    struct policy_default *old_d = p->defs;
    struct policy_route *old_r = p->routes;
    p->defs = d, p->ndefs = nd;
    p->routes = r, p->nroutes = nr;
    pthread_mutex_unlock(&p->mu);
    free(old_d);
    free(old_r);
    return 0;
}

int eng_policy_default_flow(struct eng_policy *p, const char *source, const char *entity,
                            char *flow, size_t size)
{
    if (size > 0)
        flow[0] = '\0';
    if (p == NULL || entity == NULL)
        return ENG_ENOTFOUND;
    int rc = ENG_ENOTFOUND;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->ndefs; i++) {
        const struct policy_default *d = &p->defs[i];
        if (strcmp(d->entity, entity) != 0)
            continue;
        if (source != NULL && strcmp(d->source, source) != 0)
            break;
        if (strlen(d->flow) < size) {
            memcpy(flow, d->flow, strlen(d->flow) + 1);
            rc = 0;
        } else {
            rc = ENG_EINVAL;
        }
        break;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void eng_policy_default_entities(struct eng_policy *p, char *out, size_t size)
{
    if (size == 0)
        return;
    out[0] = '\0';
    if (p == NULL)
        return;
    size_t len = 0;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->ndefs && len < size; i++) {
        int n = snprintf(out + len, size - len, "%s%s", i ? ", " : "", p->defs[i].entity);
        len += n > 0 ? (size_t)n : 0;
    }
    pthread_mutex_unlock(&p->mu);
}

void eng_policy_webhook_routes(struct eng_policy *p, const char *source,
                               struct eng_policy_routes *out)
{
    out->n = 0;
    if (p == NULL || source == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->nroutes && out->n < ENG_POLICY_ROUTES_MAX; i++) {
        const struct policy_route *r = &p->routes[i];
        if (strcmp(r->source, source) != 0)
            continue;
        memcpy(out->v[out->n].resource, r->resource, sizeof r->resource);
        memcpy(out->v[out->n].entity, r->entity, sizeof r->entity);
        out->n++;
    }
    pthread_mutex_unlock(&p->mu);
}

const char *eng_policy_route_entity(const struct eng_policy_routes *r, const char *resource)
{
    for (int i = 0; r != NULL && resource != NULL && i < r->n; i++)
        if (strcmp(r->v[i].resource, resource) == 0)
            return r->v[i].entity;
    return NULL;
}
