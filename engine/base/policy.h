/*
 * policy.h - the shop policy the scripts declare, as plain C data every layer may read: the
 * default flow of each source entity (a mapping's `default_for`) and the entity each webhook
 * resource of a source syncs (a connector's `webhook_entities`). Like config.c's settings, read
 * everywhere; unlike them, it comes from the scripts: the script registry (lua/scripts.c)
 * validates a version and publishes its declarations here in the same step (eng_policy_publish).
 * Owns: the published tables, behind one mutex. Must not: run Lua, read files, or hand out a
 * pointer into the tables (hot reload replaces them while workers and HTTP threads read):
 * readers get copies in their own buffers.
 */
#ifndef ENG_POLICY_H
#define ENG_POLICY_H

#include <stddef.h>

#define ENG_POLICY_NAME_MAX   64 /* entity, flow, resource and connector names */
#define ENG_POLICY_ROUTES_MAX 32 /* webhook resources of one source */

struct eng_policy;

/* One default flow: mapping `flow` (reading connector `source`) is the default for `entity`. */
struct eng_policy_default {
    const char *entity, *flow, *source;
};

/* One webhook route: a delivery of `source` about `resource` syncs `entity`. */
struct eng_policy_route_decl {
    const char *source, *resource, *entity;
};

/* A source's routes, copied out: the plain table the webhook parsers take. */
struct eng_policy_routes {
    int n;
    struct {
        char resource[ENG_POLICY_NAME_MAX + 1];
        char entity[ENG_POLICY_NAME_MAX + 1];
    } v[ENG_POLICY_ROUTES_MAX];
};

/* An empty policy (no default flow, no route). NULL on OOM. Caller owns it. */
struct eng_policy *eng_policy_new(void);
void eng_policy_free(struct eng_policy *p); /* NULL is fine */

/* Replace everything published with copies of defs and routes (names longer than
 * ENG_POLICY_NAME_MAX are skipped: the registry refuses them first). 0, or ENG_ENOMEM with the
 * previous tables kept. */
int eng_policy_publish(struct eng_policy *p, const struct eng_policy_default *defs, size_t ndefs,
                       const struct eng_policy_route_decl *routes, size_t nroutes);

/* The default flow of entity into flow[size]: 0; ENG_ENOTFOUND when no published mapping is the
 * default for entity, or when source is not NULL and that mapping reads another connector;
 * ENG_EINVAL when flow is too small (flow is then ""). NULL p: ENG_ENOTFOUND. */
int eng_policy_default_flow(struct eng_policy *p, const char *source, const char *entity,
                            char *flow, size_t size);

/* The entities that have a default flow, sorted, as "customers, orders, products" (for
 * messages; "" when none). Cut at size. */
void eng_policy_default_entities(struct eng_policy *p, char *out, size_t size);

/* Copy source's webhook routes into *out (out->n = 0 when none, or p is NULL). */
void eng_policy_webhook_routes(struct eng_policy *p, const char *source,
                               struct eng_policy_routes *out);

/* The entity resource routes to in r, or NULL (r may be NULL). Points into r. */
const char *eng_policy_route_entity(const struct eng_policy_routes *r, const char *resource);

#endif
