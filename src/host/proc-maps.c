/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/host/proc-maps.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnuma/basic/fileio.h"

void proc_maps_free(struct proc_maps *m)
{
        if (!m)
                return;
        for (size_t i = 0; i < m->n_maps; i++)
                free(m->maps[i].path);
        free(m->maps);
        free(m);
}

/* "7f75fbe00000-7f7607e00000 rw-p 00000000 00:00 0    [path]" */
static int parse_header(const char *line, struct proc_map *ret)
{
        struct proc_map m = {};
        unsigned long long start, end, offset, inode;
        unsigned dev_major, dev_minor;
        int off = 0;

        if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu%n", &start, &end, m.perms, &offset, &dev_major,
                   &dev_minor, &inode, &off) != 7 ||
            end < start || strlen(m.perms) != 4)
                return -EBADMSG;
        m.start = start;
        m.end = end;
        m.offset = offset;
        line += off;
        while (*line == ' ' || *line == '\t')
                line++;
        if (*line) {
                m.path = strdup(line);
                if (!m.path)
                        return -ENOMEM;
        }
        *ret = m;
        return 0;
}

static bool is_header(const char *line)
{
        /* Headers start "HEX-HEX "; smaps field lines start with a key such as "AnonHugePages:". */
        size_t n = strspn(line, "0123456789abcdef");
        return n > 0 && line[n] == '-';
}

int proc_maps_parse(const char *text, struct proc_maps **ret, unsigned *ret_line)
{
        _cleanup_(proc_maps_freep) struct proc_maps *m = NULL;
        _cleanup_free_ char *copy = strdup(text);
        unsigned lineno = 0;
        char *save = NULL;
        int r;

        if (!copy)
                return -ENOMEM;
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;

        for (char *line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
                lineno++;
                if (is_header(line)) {
                        struct proc_map map, *nm;

                        r = parse_header(line, &map);
                        if (r < 0)
                                goto bad;
                        nm = realloc(m->maps, (m->n_maps + 1) * sizeof(*nm));
                        if (!nm) {
                                free(map.path);
                                return -ENOMEM;
                        }
                        m->maps = nm;
                        m->maps[m->n_maps++] = map;
                        continue;
                }
                if (m->n_maps == 0) {
                        r = -EBADMSG;
                        goto bad;
                }
                unsigned long long kb;
                if (sscanf(line, "KernelPageSize: %llu kB", &kb) == 1)
                        m->maps[m->n_maps - 1].kernel_page_size = (uint64_t)kb << 10;
                else if (!isupper((unsigned char)line[0]) || !strchr(line, ':')) {
                        r = -EBADMSG;
                        goto bad;
                }
        }
        *ret = TAKE_PTR(m);
        return 0;
bad:
        if (ret_line)
                *ret_line = lineno;
        return r;
}

int proc_maps_read(const char *procfs_root, pid_t pid, bool smaps, struct proc_maps **ret)
{
        _cleanup_free_ char *text = NULL;
        char path[64];
        int r;

        snprintf(path, sizeof(path), "/%d/%s", (int)pid, smaps ? "smaps" : "maps");
        r = read_full_file_at(procfs_root ?: "/proc", path, 256u << 20, &text, NULL);
        if (r < 0)
                return r;
        return proc_maps_parse(text, ret, NULL);
}

bool proc_maps_covers(const struct proc_maps *m, uint64_t start, uint64_t end, uint64_t *ret_page_size)
{
        uint64_t pos = start, page = 0;

        for (size_t i = 0; i < m->n_maps && pos < end; i++) {
                const struct proc_map *p = &m->maps[i];

                if (p->end <= pos)
                        continue;
                if (p->start > pos)
                        return false; /* gap */
                if (p->perms[0] != 'r' || p->perms[1] != 'w')
                        return false;
                page = MAX(page, p->kernel_page_size);
                pos = p->end;
        }
        if (pos < end)
                return false;
        if (ret_page_size)
                *ret_page_size = page;
        return true;
}
