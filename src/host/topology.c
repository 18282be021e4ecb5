/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/host/topology.h"

#include <assert.h>
#include <errno.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnuma/basic/fileio.h"
#include "vnuma/basic/log.h"
#include "vnuma/basic/parse-util.h"

/* Why sysfs and not libnuma: libnuma cannot be pointed at another root, so tests could not use
 * fixture trees, and it scans /sys once when the library is loaded (numa_max_node() is cached),
 * so a long-running daemon would miss nodes hot-added later. On the real sysfs libnuma is only
 * a cross-check. */

/* Helpers below get a non-NULL sysfs_root; host_topology_read() maps NULL to "/sys". */
#define NODE_DIR "devices/system/node"
/* A distance row for 1024 nodes is 4 KiB and meminfo about 2 KiB; anything bigger is not sysfs. */
#define SYSFS_FILE_MAX (64 * 1024)
/* ACPI SLIT entries are one byte; 10 is local. */
#define DISTANCE_MAX 255

static int read_node_file(const char *sysfs_root, const char *path, char **ret)
{
        int r;

        r = read_full_file_at(sysfs_root, path, SYSFS_FILE_MAX, ret, NULL);
        if (r < 0)
                return log_debug_errno(r, "topology: cannot read %s/%s: %m", sysfs_root, path);
        return 0;
}

/* A Linux list-format file ("0-3,8"); the empty set is allowed. */
static int parse_list(const char *sysfs_root, const char *path, const char *text, struct idset *ret)
{
        if (idset_parse(text, ret) < 0)
                return log_debug_errno(-EBADMSG, "topology: %s/%s: not a list of ids: \"%.*s\"", sysfs_root,
                                       path, (int)MIN(strcspn(text, "\n"), 64u), text);
        return 0;
}

static int read_list_file(const char *sysfs_root, const char *path, struct idset *ret)
{
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_node_file(sysfs_root, path, &text);
        if (r < 0)
                return r;
        return parse_list(sysfs_root, path, text, ret);
}

/* One distance row: exactly n entries, in the order of online node ids. The kernel separates
 * them with single spaces, and leads with a space when node 0 is offline. */
static int parse_distance_row(const char *sysfs_root, const char *path, char *text, unsigned n, int *row)
{
        char *save = NULL;
        unsigned i = 0;

        for (char *tok = strtok_r(text, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
                int d;

                if (i >= n)
                        return log_debug_errno(-EBADMSG, "topology: %s/%s: more than %u distances",
                                               sysfs_root, path, n);
                if (safe_atoi(tok, &d) < 0 || d <= 0 || d > DISTANCE_MAX)
                        return log_debug_errno(-EBADMSG, "topology: %s/%s: bad distance \"%.16s\"",
                                               sysfs_root, path, tok);
                row[i++] = d;
        }
        if (i != n)
                return log_debug_errno(-EBADMSG, "topology: %s/%s: %u distances for %u online nodes",
                                       sysfs_root, path, i, n);
        return 0;
}

/* "Node N MemTotal:  123 kB": only MemTotal and MemFree are used, but every line must belong
 * to node N so a file that is not this node's meminfo is rejected. */
static int parse_meminfo(const char *sysfs_root, const char *path, char *text, int node_id,
                         uint64_t *ret_total, uint64_t *ret_free)
{
        uint64_t total = 0, mem_free = 0;
        bool have_total = false, have_free = false;
        char *line_save = NULL;

        for (char *line = strtok_r(text, "\n", &line_save); line; line = strtok_r(NULL, "\n", &line_save)) {
                char *save = NULL, *tok[6];
                unsigned n = 0;
                uint64_t kb;
                bool is_total;
                int id;

                for (char *t = strtok_r(line, " \t", &save); t && n < ELEMENTSOF(tok);
                     t = strtok_r(NULL, " \t", &save))
                        tok[n++] = t;
                if (n == 0)
                        continue;
                if (n < 4 || !streq(tok[0], "Node") || safe_atoi(tok[1], &id) < 0 || id != node_id)
                        return log_debug_errno(-EBADMSG, "topology: %s/%s: not a line of node %d's meminfo",
                                               sysfs_root, path, node_id);

                is_total = streq(tok[2], "MemTotal:");
                if (!is_total && !streq(tok[2], "MemFree:"))
                        continue;
                if (n != 5 || !streq(tok[4], "kB") || safe_atou64(tok[3], &kb) < 0 || kb > UINT64_MAX / 1024)
                        return log_debug_errno(-EBADMSG, "topology: %s/%s: bad \"%s\" line", sysfs_root,
                                               path, tok[2]);
                if (is_total ? have_total : have_free)
                        return log_debug_errno(-EBADMSG, "topology: %s/%s: %s appears twice", sysfs_root,
                                               path, tok[2]);
                if (is_total) {
                        total = kb * 1024;
                        have_total = true;
                } else {
                        mem_free = kb * 1024;
                        have_free = true;
                }
        }
        if (!have_total || !have_free)
                return log_debug_errno(-EBADMSG, "topology: %s/%s: no MemTotal or MemFree line", sysfs_root,
                                       path);
        if (mem_free > total)
                return log_debug_errno(-EBADMSG, "topology: %s/%s: MemFree above MemTotal", sysfs_root,
                                       path);
        *ret_total = total;
        *ret_free = mem_free;
        return 0;
}

static int node_file_path(int node_id, const char *name, char **ret)
{
        char *p;

        if (asprintf(&p, NODE_DIR "/node%d/%s", node_id, name) < 0)
                return -ENOMEM;
        *ret = p;
        return 0;
}

/* Fills t->nodes[index] and row index of t->distance. */
static int read_node(const char *sysfs_root, struct host_topology *t, unsigned index)
{
        struct host_node *node = &t->nodes[index];
        _cleanup_free_ char *cpulist_path = NULL, *distance_path = NULL, *distance_text = NULL,
                            *meminfo_path = NULL, *meminfo_text = NULL;
        int r;

        r = node_file_path(node->id, "cpulist", &cpulist_path);
        if (r < 0)
                return r;
        r = read_list_file(sysfs_root, cpulist_path, &node->cpus);
        if (r < 0)
                return r;

        r = node_file_path(node->id, "distance", &distance_path);
        if (r < 0)
                return r;
        r = read_node_file(sysfs_root, distance_path, &distance_text);
        if (r < 0)
                return r;
        r = parse_distance_row(sysfs_root, distance_path, distance_text, t->n_nodes,
                               &t->distance[(size_t)index * t->n_nodes]);
        if (r < 0)
                return r;

        r = node_file_path(node->id, "meminfo", &meminfo_path);
        if (r < 0)
                return r;
        r = read_node_file(sysfs_root, meminfo_path, &meminfo_text);
        if (r < 0)
                return r;
        return parse_meminfo(sysfs_root, meminfo_path, meminfo_text, node->id, &node->mem_total_bytes,
                             &node->mem_free_bytes);
}

/* Each online CPU belongs to exactly one node, and some node has CPUs. Returns highest CPU id + 1. */
static int check_cpus(const char *sysfs_root, const struct host_topology *t)
{
        struct idset seen = IDSET_EMPTY;
        int highest = -1;

        for (unsigned i = 0; i < t->n_nodes; i++) {
                IDSET_FOREACH (cpu, &t->nodes[i].cpus) {
                        if (idset_test(&seen, cpu))
                                return log_debug_errno(-EBADMSG, "topology: %s: CPU %d is in two nodes",
                                                       sysfs_root, cpu);
                        idset_add(&seen, cpu);
                        highest = MAX(highest, cpu);
                }
        }
        if (highest < 0)
                return log_debug_errno(-EBADMSG, "topology: %s: no online node has CPUs", sysfs_root);
        return highest + 1;
}

/* Highest possible CPU id + 1, which sizes per-CPU tables; CPUs can come online later. Falls back
 * to the CPUs the nodes list when the file is absent (trimmed fixture trees). */
static int read_n_cpus(const char *sysfs_root, int seen_n_cpus, int *ret)
{
        static const char path[] = "devices/system/cpu/possible";
        _cleanup_free_ char *text = NULL;
        struct idset possible;
        int r, last = -1;

        r = read_full_file_at(sysfs_root, path, SYSFS_FILE_MAX, &text, NULL);
        if (r == -ENOENT) {
                *ret = seen_n_cpus;
                return 0;
        }
        if (r < 0)
                return log_debug_errno(r, "topology: cannot read %s/%s: %m", sysfs_root, path);
        r = parse_list(sysfs_root, path, text, &possible);
        if (r < 0)
                return r;
        IDSET_FOREACH (cpu, &possible)
                last = cpu;
        *ret = MAX(last + 1, seen_n_cpus);
        return 0;
}

static bool is_real_sysfs(const char *sysfs_root)
{
        return streq(sysfs_root, "/sys") || streq(sysfs_root, "/sys/");
}

/* Disagreement is logged, not fatal: sysfs is read now, libnuma's view dates from process start. */
static void cross_check_libnuma(const struct host_topology *t)
{
        int highest = t->nodes[t->n_nodes - 1].id;

        if (numa_available() < 0) {
                log_debug("topology: libnuma reports no NUMA support, sysfs lists %u node(s)", t->n_nodes);
                return;
        }
        if (numa_max_node() < highest)
                log_debug("topology: sysfs node %d is above libnuma's highest node %d (hot-added?)", highest,
                          numa_max_node());
}

int host_topology_read(const char *sysfs_root, struct host_topology **ret)
{
        _cleanup_(host_topology_freep) struct host_topology *t = NULL;
        struct idset online;
        unsigned i = 0;
        int r, seen_n_cpus;

        assert(ret);

        if (!sysfs_root)
                sysfs_root = "/sys";

        r = read_list_file(sysfs_root, NODE_DIR "/online", &online);
        if (r < 0)
                return r;
        if (idset_is_empty(&online))
                return log_debug_errno(-EBADMSG, "topology: %s/" NODE_DIR "/online: no online node",
                                       sysfs_root);

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->n_nodes = (unsigned)idset_count(&online);
        t->nodes = calloc(t->n_nodes, sizeof(*t->nodes));
        t->distance = calloc((size_t)t->n_nodes * t->n_nodes, sizeof(*t->distance));
        if (!t->nodes || !t->distance)
                return -ENOMEM;

        IDSET_FOREACH (id, &online)
                t->nodes[i++].id = id;

        for (i = 0; i < t->n_nodes; i++) {
                r = read_node(sysfs_root, t, i);
                if (r < 0)
                        return r;
        }

        seen_n_cpus = check_cpus(sysfs_root, t);
        if (seen_n_cpus < 0)
                return seen_n_cpus;
        r = read_n_cpus(sysfs_root, seen_n_cpus, &t->n_cpus);
        if (r < 0)
                return r;

        if (is_real_sysfs(sysfs_root))
                cross_check_libnuma(t);

        *ret = TAKE_PTR(t);
        return 0;
}

void host_topology_free(struct host_topology *t)
{
        if (!t)
                return;
        free(t->nodes);
        free(t->distance);
        free(t);
}

int host_topology_node_index(const struct host_topology *t, int node_id)
{
        assert(t);

        for (unsigned i = 0; i < t->n_nodes; i++)
                if (t->nodes[i].id == node_id)
                        return (int)i;
        return -ENOENT;
}

int host_topology_node_of_cpu(const struct host_topology *t, int cpu)
{
        assert(t);

        for (unsigned i = 0; i < t->n_nodes; i++)
                if (idset_test(&t->nodes[i].cpus, cpu))
                        return t->nodes[i].id;
        return -ENOENT;
}

int host_topology_distance(const struct host_topology *t, int from_id, int to_id)
{
        int from, to;

        assert(t);

        from = host_topology_node_index(t, from_id);
        if (from < 0)
                return from;
        to = host_topology_node_index(t, to_id);
        if (to < 0)
                return to;
        return t->distance[(size_t)from * t->n_nodes + (size_t)to];
}

/* -ENOENT also when no node has CPUs, which host_topology_read() never returns but a
 * hand-built topology might. */
int host_topology_nearest_cpu_node(const struct host_topology *t, int node_id)
{
        int from, best = -ENOENT, best_distance = 0;

        assert(t);

        from = host_topology_node_index(t, node_id);
        if (from < 0)
                return from;
        if (!idset_is_empty(&t->nodes[from].cpus))
                return node_id;

        /* Nodes are sorted by id, so keeping the first minimum breaks ties by lower id. */
        for (unsigned i = 0; i < t->n_nodes; i++) {
                int d = t->distance[(size_t)from * t->n_nodes + i];

                if (idset_is_empty(&t->nodes[i].cpus))
                        continue;
                if (best < 0 || d < best_distance) {
                        best = t->nodes[i].id;
                        best_distance = d;
                }
        }
        return best;
}

int host_topology_node_of_thread(const struct host_topology *t, const struct idset *affinity, int last_cpu)
{
        if (affinity && !idset_is_empty(affinity))
                for (unsigned i = 0; i < t->n_nodes; i++) {
                        struct idset inside = *affinity;

                        idset_and(&inside, &t->nodes[i].cpus);
                        if (idset_equal(&inside, affinity))
                                return t->nodes[i].id;
                }
        /* Its last CPU is outside an affinity set while it slept: it has not run since, and where
         * it runs next is the scheduler's choice among several nodes. */
        if (affinity && !idset_is_empty(affinity) && last_cpu >= 0 && !idset_test(affinity, last_cpu))
                return -ENOENT;
        return host_topology_node_of_cpu(t, last_cpu);
}
