/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The JSON documents are stable: snake_case keys, base units (bytes, ns). Add keys; renaming or
 * removing one raises SHOW_JSON_SCHEMA_VERSION and changes contrib/schema/. */
#include <json-c/json.h>
#include <stdio.h>

#include "vnuma/report/show.h"

struct json_object *show_json_idset(const struct idset *s)
{
        char buf[4096];

        if (idset_format(s, buf, sizeof(buf)) < 0)
                return NULL;
        return json_object_new_string(buf);
}

static struct json_object *ratio_json(const struct locality *l)
{
        double v;

        return locality_ratio(l, &v) < 0 ? NULL : json_object_new_double(v);
}

static void add(struct json_object *o, const char *key, struct json_object *v)
{
        json_object_object_add(o, key, v);
}

static struct json_object *u64(uint64_t v)
{
        return json_object_new_uint64(v);
}

struct json_object *show_json_document(void)
{
        struct json_object *doc = json_object_new_object(), *errors = json_object_new_array();

        if (!doc || !errors) {
                json_object_put(doc);
                json_object_put(errors);
                return NULL;
        }
        add(doc, "schema_version", json_object_new_int(SHOW_JSON_SCHEMA_VERSION));
        add(doc, "errors", errors);
        return doc;
}

void show_json_add_error(struct json_object *doc, const char *what, const char *message)
{
        struct json_object *errors = NULL, *e;

        if (!json_object_object_get_ex(doc, "errors", &errors) ||
            !json_object_is_type(errors, json_type_array))
                return;
        e = json_object_new_object();
        if (!e)
                return;
        add(e, "what", json_object_new_string(what ?: ""));
        add(e, "message", json_object_new_string(message ?: ""));
        json_object_array_add(errors, e);
}

struct json_object *show_json_host(const struct host_topology *topo)
{
        struct json_object *host = json_object_new_object(), *nodes = json_object_new_array();

        if (!host || !nodes) {
                json_object_put(host);
                json_object_put(nodes);
                return NULL;
        }
        for (unsigned i = 0; i < topo->n_nodes; i++) {
                const struct host_node *n = &topo->nodes[i];
                struct json_object *node = json_object_new_object(), *dist = json_object_new_object();
                char key[16];

                for (unsigned j = 0; j < topo->n_nodes; j++) {
                        snprintf(key, sizeof(key), "%d", topo->nodes[j].id);
                        add(dist, key, json_object_new_int(topo->distance[i * topo->n_nodes + j]));
                }
                add(node, "id", json_object_new_int(n->id));
                add(node, "cpus", show_json_idset(&n->cpus));
                add(node, "mem_total_bytes", u64(n->mem_total_bytes));
                add(node, "mem_free_bytes", u64(n->mem_free_bytes));
                add(node, "distances", dist);
                json_object_array_add(nodes, node);
        }
        add(host, "nodes", nodes);
        return host;
}

static struct json_object *thread_json(const struct thread_observation *t)
{
        struct json_object *o = json_object_new_object();

        if (t->gone) {
                add(o, "host_cpu", NULL);
                add(o, "host_node", NULL);
                add(o, "affinity", NULL);
                return o;
        }
        add(o, "host_cpu", json_object_new_int(t->placement.last_cpu));
        add(o, "host_node", t->host_node >= 0 ? json_object_new_int(t->host_node) : NULL);
        add(o, "affinity", show_json_idset(&t->placement.affinity));
        add(o, "runtime_ns", u64(t->placement.runtime_ns));
        return o;
}

static struct json_object *cell_json(const struct guest_cell *cell, const struct cell_observation *co,
                                     const struct host_topology *topo)
{
        struct json_object *o = json_object_new_object(), *ranges = json_object_new_array(),
                           *host_bytes = json_object_new_object(), *unavailable = json_object_new_object(),
                           *regions = json_object_new_array();
        const struct residency *res = &co->residency;
        char key[16];

        add(o, "id", json_object_new_int(cell->id));
        add(o, "backend", json_object_new_string(cell->regions[0].backend_id));
        add(o, "backend_kind", json_object_new_string(backend_kind_to_string(cell->regions[0].kind)));
        add(o, "size_bytes", u64(cell->size_bytes));
        add(o, "vcpus", show_json_idset(&cell->vcpus));
        for (unsigned i = 0; i < cell->n_regions; i++) {
                const struct guest_region *rg = &cell->regions[i];
                struct json_object *range = json_object_new_object(), *region = json_object_new_object();

                add(range, "start", u64(rg->hva_start));
                add(range, "end", u64(rg->hva_start + rg->size_bytes));
                json_object_array_add(ranges, range);

                add(region, "backend", json_object_new_string(rg->backend_id));
                add(region, "device", rg->device_id ? json_object_new_string(rg->device_id) : NULL);
                add(region, "kind", json_object_new_string(backend_kind_to_string(rg->kind)));
                add(region, "sharing", json_object_new_string(region_sharing_to_string(rg->sharing)));
                add(region, "size_bytes", u64(rg->size_bytes));
                add(region, "page_size_bytes", u64(rg->page_size));
                add(region, "policy", json_object_new_string(rg->policy));
                add(region, "host_nodes", show_json_idset(&rg->host_nodes));
                add(region, "prealloc", json_object_new_boolean(rg->prealloc));
                add(region, "hva_start", u64(rg->hva_start));
                add(region, "hva_end", u64(rg->hva_start + rg->size_bytes));
                json_object_array_add(regions, region);
        }
        add(o, "hva_ranges", ranges);
        add(o, "regions", regions);
        for (unsigned i = 0; i < topo->n_nodes; i++) {
                int id = topo->nodes[i].id;
                snprintf(key, sizeof(key), "%d", id);
                add(host_bytes, key, u64(id < RESIDENCY_MAX_NODES ? res->node_bytes[id] : 0));
        }
        add(o, "host_bytes", host_bytes);
        add(o, "present_bytes", u64(co->locality.present_bytes));
        add(o, "not_present_bytes", u64(res->not_present_bytes));
        add(unavailable, "efault", u64(res->efault_bytes));
        add(unavailable, "ebusy", u64(res->busy_bytes));
        add(unavailable, "eacces", u64(res->denied_bytes));
        add(unavailable, "other", u64(res->other_bytes));
        add(o, "unavailable_bytes", unavailable);
        add(o, "home_node",
            co->locality.home_node >= 0 ? json_object_new_int(co->locality.home_node) : NULL);
        add(o, "local_bytes", u64(co->locality.local_bytes));
        add(o, "locality_ratio", ratio_json(&co->locality));
        return o;
}

struct json_object *show_json_domain(const struct vm_observation *o, const struct host_topology *topo,
                                     const char *source)
{
        const struct guest_model *m = o->model;
        struct json_object *d = json_object_new_object(), *cells = json_object_new_array(),
                           *vcpus = json_object_new_array(), *threads = json_object_new_array();
        char version[48];

        snprintf(version, sizeof(version), "%d.%d.%d", m->qemu_major, m->qemu_minor, m->qemu_micro);
        add(d, "name", json_object_new_string(m->name ?: ""));
        add(d, "pid", json_object_new_int(m->pid));
        add(d, "qmp", source ? json_object_new_string(source) : NULL);
        add(d, "qemu_version", json_object_new_string(version));
        add(d, "locality_ratio", ratio_json(&o->total));
        add(d, "local_bytes", u64(o->total.local_bytes));
        add(d, "present_bytes", u64(o->total.present_bytes));
        for (unsigned i = 0; i < m->n_cells; i++)
                json_object_array_add(cells, cell_json(&m->cells[i], &o->cells[i], topo));
        add(d, "guest_nodes", cells);
        for (unsigned i = 0; i < m->n_vcpus; i++) {
                struct json_object *v = thread_json(&o->vcpus[i]);

                add(v, "index", json_object_new_int(m->vcpus[i].index));
                add(v, "tid", json_object_new_int(m->vcpus[i].tid));
                add(v, "guest_node", json_object_new_int(m->vcpus[i].cell));
                json_object_array_add(vcpus, v);
        }
        add(d, "vcpus", vcpus);
        for (unsigned i = 0; i < m->n_threads; i++) {
                struct json_object *t = thread_json(&o->threads[i]);

                add(t, "tid", json_object_new_int(m->threads[i].tid));
                add(t, "kind", json_object_new_string(guest_thread_kind_to_string(m->threads[i].kind)));
                add(t, "name", json_object_new_string(m->threads[i].name));
                json_object_array_add(threads, t);
        }
        add(d, "threads", threads);
        return d;
}

struct json_object *show_json_policy(const struct vm_policy *p)
{
        struct json_object *o = json_object_new_object(), *cells = json_object_new_array();

        json_object_object_add(o, "mode", json_object_new_string(vm_policy_mode_to_string(p->mode)));
        json_object_object_add(o, "nodes", show_json_idset(&p->nodes));
        json_object_object_add(o, "pin", json_object_new_string(vm_pin_mode_to_string(p->pin)));
        json_object_object_add(o, "migrate_rate_bytes", json_object_new_uint64(p->migrate_rate));
        for (unsigned i = 0; i < p->n_cell_nodes && i < VM_POLICY_CELLS_MAX; i++) {
                struct json_object *c = json_object_new_object();
                json_object_object_add(c, "id", json_object_new_int((int)p->cell_nodes[i].cell));
                json_object_object_add(c, "nodes", show_json_idset(&p->cell_nodes[i].nodes));
                json_object_array_add(cells, c);
        }
        json_object_object_add(o, "cells", cells);
        return o;
}
