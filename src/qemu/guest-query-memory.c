/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* guest_model_query()'s memory backends (query-memdev, typed by qom-list /objects) and the
 * memory devices (DIMMs, NVDIMMs, virtio-mem) that plug them into guest nodes. */
#include <stdlib.h>
#include <string.h>

#include "guest-query-internal.h"
#include "vnuma/basic/json-util.h"

struct backend_info *guest_query_backend_find(struct query_ctx *c, const char *id)
{
        for (size_t i = 0; i < c->n_backends; i++)
                if (streq(c->backends[i].id, id))
                        return &c->backends[i];
        return NULL;
}

struct qom_object {
        const char *name, *type; /* borrowed from the reply */
};

static int cmp_qom_object(const void *a, const void *b)
{
        return strcmp(((const struct qom_object *)a)->name, ((const struct qom_object *)b)->name);
}

/* qom-list /objects as (name, type), sorted by name, so typing n backends is n log m. */
static int qom_object_index(struct query_ctx *c, struct json_object *objects, struct qom_object **ret,
                            size_t *ret_n)
{
        size_t n = json_object_array_length(objects), k = 0;
        struct qom_object *v;

        if (n > GUEST_MAX_QOM_OBJECTS)
                return fail_too_many(c, "qom-list /objects", n, GUEST_MAX_QOM_OBJECTS);
        v = calloc(n ?: 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_array_get_idx(objects, i);
                const char *name, *type;

                if (json_member_string(o, "name", &name) == 0 && json_member_string(o, "type", &type) == 0)
                        v[k++] = (struct qom_object){name, type};
        }
        qsort(v, k, sizeof(*v), cmp_qom_object);
        for (size_t i = 1; i < k; i++)
                if (streq(v[i].name, v[i - 1].name)) {
                        const char *dup = v[i].name; /* QEMU's reply owns the string, not v */

                        free(v);
                        return fail(c, -EBADMSG, "qom-list /objects: duplicate name \"%s\"", dup);
                }
        *ret = v;
        *ret_n = k;
        return 0;
}

int guest_query_backends(struct query_ctx *c)
{
        _cleanup_free_ struct qom_object *index = NULL;
        size_t n_index = 0;
        _cleanup_json_ struct json_object *memdevs = NULL, *objects = NULL, *args = NULL;
        size_t n;
        int r;

        r = qmp_client_execute(c->qmp, "query-memdev", NULL, &memdevs);
        if (r < 0)
                return qmp_fail(c, r);
        if (!json_object_is_type(memdevs, json_type_array))
                return fail(c, -EBADMSG, "query-memdev: reply is not an array");

        args = json_object_new_object();
        if (!args)
                return -ENOMEM;
        json_object_object_add(args, "path", json_object_new_string("/objects"));
        r = qmp_client_execute(c->qmp, "qom-list", args, &objects);
        if (r < 0)
                return qmp_fail(c, r);
        if (!json_object_is_type(objects, json_type_array))
                return fail(c, -EBADMSG, "qom-list /objects: reply is not an array");

        r = qom_object_index(c, objects, &index, &n_index);
        if (r < 0)
                return r;
        n = json_object_array_length(memdevs);
        if (n > GUEST_MAX_BACKENDS)
                return fail_too_many(c, "query-memdev", n, GUEST_MAX_BACKENDS);
        c->backends = calloc(n ?: 1, sizeof(*c->backends));
        if (!c->backends)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(memdevs, i), *nodes;
                struct backend_info *b = &c->backends[c->n_backends];
                struct qom_object key, *found;
                const char *id, *policy;

                if (json_member_string(e, "id", &id) < 0 || !*id)
                        return fail(c, -EBADMSG, "query-memdev: element %zu: missing \"id\"", i);
                if (guest_query_backend_find(c, id))
                        return fail(c, -EBADMSG, "query-memdev: duplicate id \"%s\"", id);
                if (json_member_uint64(e, "size", &b->size) < 0 || b->size == 0)
                        return fail(c, -EBADMSG, "query-memdev: backend \"%s\": missing or bad \"size\"",
                                    id);
                if (json_member_string(e, "policy", &policy) < 0)
                        return fail(c, -EBADMSG, "query-memdev: backend \"%s\": missing \"policy\"", id);
                if (json_member_bool(e, "prealloc", &b->prealloc) == -EBADMSG)
                        return fail(c, -EBADMSG,
                                    "query-memdev: backend \"%s\": \"prealloc\" is not a boolean", id);
                if (json_member_array(e, "host-nodes", &nodes) == 0)
                        for (size_t k = 0; k < json_object_array_length(nodes); k++) {
                                struct json_object *v = json_object_array_get_idx(nodes, k);
                                if (!json_object_is_type(v, json_type_int) || json_object_get_int(v) < 0 ||
                                    json_object_get_int(v) >= IDSET_MAX)
                                        return fail(c, -EBADMSG,
                                                    "query-memdev: backend \"%s\": bad host-nodes", id);
                                idset_add(&b->host_nodes, json_object_get_int(v));
                        }
                key = (struct qom_object){.name = id};
                found = bsearch(&key, index, n_index, sizeof(*index), cmp_qom_object);
                b->kind = found ? backend_kind_from_qom_type(found->type) : BACKEND_KIND_INVALID;
                if (b->kind == BACKEND_KIND_INVALID)
                        return fail(c, -EBADMSG,
                                    "qom-list /objects: backend \"%s\" missing or of unknown type", id);
                b->id = strdup(id);
                b->policy = strdup(policy);
                if (!b->id || !b->policy)
                        return -ENOMEM;
                c->n_backends++;
        }
        return 0;
}

int guest_query_memory_devices(struct query_ctx *c)
{
        _cleanup_json_ struct json_object *ret = NULL;
        size_t n;
        int r;

        r = qmp_client_execute(c->qmp, "query-memory-devices", NULL, &ret);
        if (r < 0)
                return qmp_fail(c, r);
        if (!json_object_is_type(ret, json_type_array))
                return fail(c, -EBADMSG, "query-memory-devices: reply is not an array");
        n = json_object_array_length(ret);
        if (n > GUEST_MAX_MEMORY_DEVICES)
                return fail_too_many(c, "query-memory-devices", n, GUEST_MAX_MEMORY_DEVICES);
        c->devices = calloc(n ?: 1, sizeof(*c->devices));
        if (!c->devices)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(ret, i), *data;
                const char *type, *memdev, *id = NULL;
                int64_t node;

                if (json_member_string(e, "type", &type) < 0 || json_member_object(e, "data", &data) < 0)
                        return fail(c, -EBADMSG, "query-memory-devices: element %zu: missing type or data",
                                    i);
                if (!streq(type, "dimm") && !streq(type, "nvdimm") && !streq(type, "virtio-mem"))
                        continue; /* virtio-pmem, sgx-epc: not guest NUMA RAM */
                if (json_member_string(data, "memdev", &memdev) < 0 || !startswith(memdev, "/objects/"))
                        return fail(c, -EBADMSG, "query-memory-devices: element %zu: bad \"memdev\"", i);
                if (json_member_int64(data, "node", &node) < 0 || node < 0)
                        return fail(c, -EBADMSG, "query-memory-devices: element %zu: bad \"node\"", i);
                (void)json_member_string(data, "id", &id);
                c->devices[c->n_devices].backend = strdup(memdev + strlen("/objects/"));
                c->devices[c->n_devices].id = strdup(id ?: memdev + strlen("/objects/"));
                c->devices[c->n_devices].node = (int)node;
                c->n_devices++;
                if (!c->devices[c->n_devices - 1].backend || !c->devices[c->n_devices - 1].id)
                        return -ENOMEM;
        }
        return 0;
}
