/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/qemu/qemu-cmdline.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnuma/basic/fileio.h"
#include "vnuma/basic/parse-util.h"

void numa_args_free(struct numa_args *a)
{
        if (!a)
                return;
        for (unsigned i = 0; i < a->n_nodes; i++)
                free(a->nodes[i].memdev);
        free(a->nodes);
        free(a);
}

const char *numa_args_memdev(const struct numa_args *a, int nodeid)
{
        for (unsigned i = 0; i < a->n_nodes; i++)
                if (a->nodes[i].nodeid == nodeid)
                        return a->nodes[i].memdev;
        return NULL;
}

/* keyval: "node,nodeid=0,cpus=0-1,memdev=m0". Returns 0 and fills *ret for a node, 1 for
 * another -numa kind, -EBADMSG on garbage. */
static int parse_keyval(const char *arg, int default_id, struct numa_node_arg *ret)
{
        _cleanup_free_ char *copy = strdup(arg), *memdev = NULL;
        char *save = NULL, *tok;
        int nodeid = default_id;

        if (!copy)
                return -ENOMEM;
        tok = strtok_r(copy, ",", &save);
        if (!tok)
                return -EBADMSG;
        if (!streq(tok, "node") && !startswith(tok, "type=node")) {
                if (strchr(tok, '='))
                        return -EBADMSG;
                return 1;
        }
        while ((tok = strtok_r(NULL, ",", &save))) {
                if (startswith(tok, "nodeid=")) {
                        if (safe_atoi(tok + 7, &nodeid) < 0 || nodeid < 0)
                                return -EBADMSG;
                } else if (startswith(tok, "memdev=")) {
                        if (!tok[7])
                                return -EBADMSG;
                        free(memdev);
                        memdev = strdup(tok + 7);
                        if (!memdev)
                                return -ENOMEM;
                }
        }
        ret->nodeid = nodeid;
        ret->memdev = TAKE_PTR(memdev);
        return 0;
}

static int parse_json(const char *arg, int default_id, struct numa_node_arg *ret)
{
        struct json_object *o = json_tokener_parse(arg), *v;
        int r = 1, nodeid = default_id;
        char *memdev = NULL;

        if (!o || !json_object_is_type(o, json_type_object)) {
                r = -EBADMSG;
                goto out;
        }
        if (!json_object_object_get_ex(o, "type", &v) || !json_object_is_type(v, json_type_string))
                r = -EBADMSG;
        else if (streq(json_object_get_string(v), "node")) {
                if (json_object_object_get_ex(o, "nodeid", &v)) {
                        if (!json_object_is_type(v, json_type_int) || json_object_get_int(v) < 0) {
                                r = -EBADMSG;
                                goto out;
                        }
                        nodeid = json_object_get_int(v);
                }
                if (json_object_object_get_ex(o, "memdev", &v)) {
                        if (!json_object_is_type(v, json_type_string)) {
                                r = -EBADMSG;
                                goto out;
                        }
                        memdev = strdup(json_object_get_string(v));
                        if (!memdev) {
                                r = -ENOMEM;
                                goto out;
                        }
                }
                ret->nodeid = nodeid;
                ret->memdev = memdev;
                r = 0;
        }
out:
        json_object_put(o);
        return r;
}

int numa_args_parse(const char *argv, size_t size, struct numa_args **ret)
{
        _cleanup_(numa_args_freep) struct numa_args *a = calloc(1, sizeof(struct numa_args));
        /* The blob need not end in NUL (a truncated read): work on a terminated copy. */
        _cleanup_free_ char *blob = malloc(size + 1);
        const char *p = blob, *end = blob + size;

        if (!a || !blob)
                return -ENOMEM;
        memcpy(blob, argv, size);
        blob[size] = '\0';
        while (p < end) {
                const char *arg = p, *val;
                size_t len = strnlen(p, (size_t)(end - p));

                p += len + 1;
                if (!streq(arg, "-numa") && !streq(arg, "--numa"))
                        continue;
                if (p >= end)
                        return -EBADMSG;
                val = p;
                p += strnlen(p, (size_t)(end - p)) + 1;

                struct numa_node_arg node = {}, *nn;
                int r = val[0] == '{' ? parse_json(val, (int)a->n_nodes, &node)
                                      : parse_keyval(val, (int)a->n_nodes, &node);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                for (unsigned i = 0; i < a->n_nodes; i++)
                        if (a->nodes[i].nodeid == node.nodeid) {
                                free(node.memdev);
                                return -EBADMSG;
                        }
                nn = realloc(a->nodes, (a->n_nodes + 1) * sizeof(*nn));
                if (!nn) {
                        free(node.memdev);
                        return -ENOMEM;
                }
                a->nodes = nn;
                a->nodes[a->n_nodes++] = node;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

int numa_args_read(const char *procfs_root, pid_t pid, struct numa_args **ret)
{
        _cleanup_free_ char *blob = NULL;
        char path[64];
        size_t size;
        int r;

        snprintf(path, sizeof(path), "/%d/cmdline", (int)pid);
        r = read_full_file_at(procfs_root ?: "/proc", path, 4u << 20, &blob, &size);
        if (r < 0)
                return r;
        return numa_args_parse(blob, size, ret);
}
