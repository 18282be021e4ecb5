/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Human tables, laid out like numastat (MiB per node) and virsh vcpuinfo. They are rendered from
 * the JSON document, so `vnumactl show --qmp` and the daemon's `show` print the same thing. */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "vnuma/basic/json-util.h"
#include "vnuma/report/show.h"

#define MIB(x) ((double)(x) / (1024.0 * 1024.0))

/* Like json_string_or, but an empty string also takes the default (empty sets print "-"). */
static const char *s_or(struct json_object *o, const char *key, const char *dflt)
{
        const char *v = json_string_or(o, key, NULL);
        return v && *v ? v : dflt;
}

void show_format_ratio(struct json_object *o, char *buf, size_t size)
{
        struct json_object *v;

        if (json_object_object_get_ex(o, "locality_ratio", &v) && v &&
            (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
                snprintf(buf, size, "%.1f", json_object_get_double(v) * 100.0);
        else
                snprintf(buf, size, "-");
}

static void int_or_dash(char *buf, size_t size, struct json_object *o, const char *key)
{
        int64_t v = json_int64_or(o, key, -1);

        if (v >= 0)
                snprintf(buf, size, "%lld", (long long)v);
        else
                snprintf(buf, size, "-");
}

/* CPU, node and affinity columns; the affinity is padded only when more columns follow. */
static void thread_cols(FILE *f, struct json_object *t, bool last)
{
        char cpu[24], node[24];

        int_or_dash(cpu, sizeof(cpu), t, "host_cpu");
        int_or_dash(node, sizeof(node), t, "host_node");
        fprintf(f, "  %4s  %4s", cpu, node);
        fprintf(f, last ? "  %s" : "  %-9s", s_or(t, "affinity", "-"));
}

void show_table_domain(FILE *f, struct json_object *dom, struct json_object *host)
{
        struct json_object *nodes = NULL, *cells = NULL, *vcpus = NULL, *threads = NULL, *policy = NULL;
        char pct[16], buf[64];

        json_member_array(host, "nodes", &nodes);
        json_member_array(dom, "guest_nodes", &cells);
        json_member_array(dom, "vcpus", &vcpus);
        json_member_array(dom, "threads", &threads);
        show_format_ratio(dom, pct, sizeof(pct));
        fprintf(f, "Domain %s  (pid %lld, QEMU %s, %s)\n", s_or(dom, "name", "?"),
                (long long)json_int64_or(dom, "pid", 0), s_or(dom, "qemu_version", "?"),
                s_or(dom, "qmp", streq_ptr(s_or(dom, "source", NULL), "libvirt") ? "libvirt" : "?"));
        if (json_member_object(dom, "policy", &policy) == 0) {
                const char *err = s_or(policy, "error", NULL);
                fprintf(f, "Policy %s (%s)%s%s\n", s_or(policy, "mode", "?"), s_or(policy, "source", "?"),
                        err ? "  INVALID: " : "", err ?: "");
        }
        fprintf(f, "Locality %s %%  (%.1f of %.1f MiB present are on their cell's home node)\n", pct,
                MIB(json_uint64_or(dom, "local_bytes", 0)), MIB(json_uint64_or(dom, "present_bytes", 0)));
        /* The daemon serves memory figures from its last period; a one-shot scan has no such key. */
        struct json_object *period = NULL;
        if (json_object_object_get_ex(dom, "snapshot_period", &period)) {
                if (period)
                        fprintf(f, "Memory as of period %" PRIu64 ", %.1f s ago\n",
                                json_uint64_or(dom, "snapshot_period", 0),
                                (double)json_uint64_or(dom, "snapshot_age_ns", 0) / 1e9);
                else
                        fprintf(f, "Memory not measured yet (the VM's first period has not run)\n");
        }
        fputc('\n', f);

        fprintf(f, "%4s  %-7s  %-12s  %-5s  %-13s  %4s  %9s", "Cell", "vCPUs", "Backend", "Kind", "Sharing",
                "Home", "Size MiB");
        for (size_t i = 0; nodes && i < json_object_array_length(nodes); i++) {
                snprintf(buf, sizeof(buf), "Node %lld",
                         (long long)json_int64_or(json_object_array_get_idx(nodes, i), "id", -1));
                fprintf(f, "  %9s", buf);
        }
        fprintf(f, "  %9s  %11s  %7s\n", "Total", "Not present", "Local %");

        for (size_t c = 0; cells && c < json_object_array_length(cells); c++) {
                struct json_object *cell = json_object_array_get_idx(cells, c), *hb = NULL, *regions = NULL;
                size_t n_regions;
                char home[24];

                json_member_object(cell, "host_bytes", &hb);
                json_member_array(cell, "regions", &regions);
                n_regions = regions ? json_object_array_length(regions) : 0;
                int_or_dash(home, sizeof(home), cell, "home_node");
                snprintf(buf, sizeof(buf), "%s%s", s_or(cell, "backend", "?"), n_regions > 1 ? "+" : "");
                fprintf(f, "%4lld  %-7s  %-12s  %-5s  %-13s  %4s  %9.1f",
                        (long long)json_int64_or(cell, "id", -1), s_or(cell, "vcpus", "-"), buf,
                        s_or(cell, "backend_kind", "?"),
                        n_regions ? s_or(json_object_array_get_idx(regions, 0), "sharing", "?") : "?", home,
                        MIB(json_uint64_or(cell, "size_bytes", 0)));
                for (size_t i = 0; nodes && i < json_object_array_length(nodes); i++) {
                        snprintf(buf, sizeof(buf), "%lld",
                                 (long long)json_int64_or(json_object_array_get_idx(nodes, i), "id", -1));
                        fprintf(f, "  %9.1f", MIB(json_uint64_or(hb, buf, 0)));
                }
                show_format_ratio(cell, pct, sizeof(pct));
                fprintf(f, "  %9.1f  %11.1f  %7s\n", MIB(json_uint64_or(cell, "present_bytes", 0)),
                        MIB(json_uint64_or(cell, "not_present_bytes", 0)), pct);
                for (size_t r = 1; r < n_regions; r++) {
                        struct json_object *rg = json_object_array_get_idx(regions, r);
                        fprintf(f, "%4s  %-7s  + %-10s  %-5s  %-13s  %4s  %9.1f  (%s)\n", "", "",
                                s_or(rg, "backend", "?"), s_or(rg, "kind", "?"), s_or(rg, "sharing", "?"),
                                "", MIB(json_uint64_or(rg, "size_bytes", 0)), s_or(rg, "device", ""));
                }
        }

        fprintf(f, "\n%5s  %8s  %4s  %4s  %4s  %s\n", "vCPU", "TID", "Cell", "CPU", "Node", "Affinity");
        for (size_t i = 0; vcpus && i < json_object_array_length(vcpus); i++) {
                struct json_object *v = json_object_array_get_idx(vcpus, i);
                fprintf(f, "%5lld  %8lld  %4lld", (long long)json_int64_or(v, "index", -1),
                        (long long)json_int64_or(v, "tid", -1),
                        (long long)json_int64_or(v, "guest_node", -1));
                thread_cols(f, v, true);
                fputc('\n', f);
        }

        fprintf(f, "\n%-8s  %8s  %4s  %4s  %-9s  %s\n", "Thread", "TID", "CPU", "Node", "Affinity", "Name");
        for (size_t i = 0; threads && i < json_object_array_length(threads); i++) {
                struct json_object *t = json_object_array_get_idx(threads, i);
                fprintf(f, "%-8s  %8lld", s_or(t, "kind", "?"), (long long)json_int64_or(t, "tid", -1));
                thread_cols(f, t, false);
                fprintf(f, "  %s\n", s_or(t, "name", "?"));
        }
}
