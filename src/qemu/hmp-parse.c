/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/qemu/hmp-parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnuma/basic/parse-util.h"

int gpa2hva_parse(const char *text, uint64_t *ret_hva, char **ret_region)
{
        static const char prefix[] = "Host virtual address for ";
        const char *open, *close, *is;
        char hex[24];
        uint64_t hva;
        size_t n;

        while (*text == ' ' || *text == '\n')
                text++;
        if (startswith(text, "No memory is mapped at address"))
                return -ENXIO;
        if (!startswith(text, prefix))
                return -EBADMSG;
        open = strchr(text, '(');
        close = open ? strstr(open, ") is 0x") : NULL;
        if (!open || !close)
                return -EBADMSG;
        is = close + strlen(") is ");
        n = strspn(is + 2, "0123456789abcdefABCDEF") + 2;
        if (n <= 2 || n >= sizeof(hex) || (is[n] != '\0' && is[n] != '\n' && is[n] != '\r'))
                return -EBADMSG;
        memcpy(hex, is, n);
        hex[n] = '\0';
        if (safe_atox64(hex, &hva) < 0)
                return -EBADMSG;
        if (ret_region) {
                char *region = strndup(open + 1, (size_t)(close - open - 1));
                if (!region)
                        return -ENOMEM;
                *ret_region = region;
        }
        *ret_hva = hva;
        return 0;
}

void info_numa_free(struct info_numa *n)
{
        if (!n)
                return;
        free(n->nodes);
        free(n);
}

/* Node ids index a table of slots (0: none yet), so a long reply costs a lookup per line, not a
 * walk over the nodes. */
static struct info_numa_node *node_slot(struct info_numa *n, const unsigned *slot_of, int id)
{
        return slot_of[id] ? &n->nodes[slot_of[id] - 1] : NULL;
}

/* "0 1 2" -> set; QEMU prints CPUs separated by spaces. */
static int parse_cpu_words(const char *s, struct idset *ret)
{
        struct idset set = IDSET_EMPTY;
        char *end;

        for (;;) {
                long v;

                while (*s == ' ')
                        s++;
                if (*s == '\0')
                        break;
                v = strtol(s, &end, 10);
                if (end == s || v < 0 || v >= IDSET_MAX || (*end != ' ' && *end != '\0'))
                        return -EBADMSG;
                idset_add(&set, (int)v);
                s = end;
        }
        *ret = set;
        return 0;
}

int info_numa_parse(const char *text, struct info_numa **ret)
{
        _cleanup_(info_numa_freep) struct info_numa *n = NULL;
        _cleanup_free_ char *copy = strdup(text);
        _cleanup_free_ unsigned *slot_of = calloc(IDSET_MAX, sizeof(unsigned));
        char *save = NULL;
        unsigned declared = 0;
        bool have_count = false;

        if (!copy || !slot_of)
                return -ENOMEM;
        n = calloc(1, sizeof(*n));
        if (!n)
                return -ENOMEM;

        for (char *line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
                struct info_numa_node *node;
                char field[16];
                int id, off = 0;
                unsigned long long mb;

                if (sscanf(line, "%u nodes%n", &declared, &off) == 1 && line[off] == '\0') {
                        if (have_count || declared > IDSET_MAX)
                                return -EBADMSG;
                        n->nodes = calloc(declared ?: 1, sizeof(*n->nodes));
                        if (!n->nodes)
                                return -ENOMEM;
                        have_count = true;
                        continue;
                }
                if (!have_count || sscanf(line, "node %d %15[a-z]:%n", &id, field, &off) != 2 || id < 0 ||
                    id >= IDSET_MAX)
                        return -EBADMSG;
                node = node_slot(n, slot_of, id);
                if (!node) {
                        if (n->n_nodes >= declared)
                                return -EBADMSG;
                        node = &n->nodes[n->n_nodes++];
                        node->id = id;
                        slot_of[id] = n->n_nodes;
                }
                if (streq(field, "cpus")) {
                        if (parse_cpu_words(line + off, &node->cpus) < 0)
                                return -EBADMSG;
                } else if (streq(field, "size") || streq(field, "plugged")) {
                        int end = 0;

                        if (sscanf(line + off, " %llu MB%n", &mb, &end) != 1 || line[off + end] != '\0' ||
                            mb > (UINT64_MAX >> 20))
                                return -EBADMSG;
                        if (streq(field, "size"))
                                node->size_bytes = (uint64_t)mb << 20;
                        else
                                node->plugged_bytes = (uint64_t)mb << 20;
                } else
                        return -EBADMSG;
        }
        if (!have_count || n->n_nodes != declared)
                return -EBADMSG;
        *ret = TAKE_PTR(n);
        return 0;
}
