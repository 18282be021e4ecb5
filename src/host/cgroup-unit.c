/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/host/cgroup-unit.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vnuma/basic/fileio.h"
#include "vnuma/basic/log.h"
#include "vnuma/basic/macro.h"
#include "vnuma/basic/parse-util.h"

#define UNIT_NAME_MAX   255
#define SUBTREE_DEPTH   16
#define CGROUP_TEXT_MAX (1 << 16)

static bool ends_with(const char *s, size_t n, const char *suffix)
{
        size_t k = strlen(suffix);

        return n > k && memcmp(s + n - k, suffix, k) == 0;
}

static bool unit_name_ok(const char *s, size_t n)
{
        if (n == 0 || n > UNIT_NAME_MAX || s[0] == '.')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.@\\-", s[i]) ||
                    s[i] == 0)
                        return false;
        return ends_with(s, n, ".scope") || ends_with(s, n, ".service");
}

bool cgroup_unit_name_is_valid(const char *name)
{
        return name && unit_name_ok(name, strlen(name));
}

/* Whether a controller list ("cpu,cpuacct", "name=systemd") names the systemd hierarchy. */
static bool names_systemd(const char *p, const char *end)
{
        static const char want[] = "name=systemd";

        while (p < end) {
                const char *e = memchr(p, ',', (size_t)(end - p)) ?: end;

                if ((size_t)(e - p) == strlen(want) && memcmp(p, want, strlen(want)) == 0)
                        return true;
                p = e + 1;
        }
        return false;
}

/* The unit in one cgroup path (not NUL-terminated): -ENOENT if none. */
static int unit_in_path(const char *path, size_t n, char **ret_unit, char **ret_unit_path)
{
        const char *best = NULL;
        size_t best_len = 0;

        for (size_t i = 0; i < n;) {
                size_t j = i;

                while (j < n && path[j] != '/')
                        j++;
                if (unit_name_ok(path + i, j - i)) {
                        best = path + i;
                        best_len = j - i;
                }
                i = j + 1;
        }
        if (!best)
                return -ENOENT;

        _cleanup_free_ char *unit = strndup(best, best_len);
        _cleanup_free_ char *unit_path = strndup(path, (size_t)(best - path) + best_len);
        if (!unit || !unit_path)
                return -ENOMEM;
        *ret_unit = TAKE_PTR(unit);
        if (ret_unit_path)
                *ret_unit_path = TAKE_PTR(unit_path);
        return 0;
}

int cgroup_unit_parse_proc(const char *text, char **ret_unit, char **ret_unit_path)
{
        const char *v1 = NULL, *v2 = NULL, *v1_end = NULL, *v2_end = NULL;

        for (const char *line = text; line && *line;) {
                const char *eol = strchrnul(line, '\n'), *c1, *c2;

                if (eol == line) {
                        line = *eol ? eol + 1 : NULL;
                        continue;
                }
                c1 = memchr(line, ':', (size_t)(eol - line));
                c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
                if (!c2 || c2 + 1 == eol || c2[1] != '/')
                        return log_debug_errno(-EBADMSG, "cgroup-unit: not a /proc cgroup line: \"%.*s\"",
                                               (int)MIN(eol - line, 80), line);
                if (names_systemd(c1 + 1, c2)) {
                        v1 = c2 + 1;
                        v1_end = eol;
                } else if (c1 - line == 1 && line[0] == '0' && c2 == c1 + 1) {
                        v2 = c2 + 1;
                        v2_end = eol;
                }
                line = *eol ? eol + 1 : NULL;
        }
        /* On a hybrid host both name the same path; the named hierarchy is systemd's own. */
        if (v1)
                return unit_in_path(v1, (size_t)(v1_end - v1), ret_unit, ret_unit_path);
        if (v2)
                return unit_in_path(v2, (size_t)(v2_end - v2), ret_unit, ret_unit_path);
        return -ENOENT;
}

int cgroup_unit_of_pid(const char *procfs_root, pid_t pid, char **ret_unit, char **ret_unit_path)
{
        _cleanup_free_ char *text = NULL;
        char path[32];
        int r;

        if (pid <= 0)
                return -EINVAL;
        snprintf(path, sizeof(path), "/%d/cgroup", (int)pid);
        r = read_full_file_at(procfs_root ?: "/proc", path, CGROUP_TEXT_MAX, &text, NULL);
        if (r == -ENOENT)
                return -ESRCH;
        if (r < 0)
                return r;
        return cgroup_unit_parse_proc(text, ret_unit, ret_unit_path);
}

/* 1 if every pid in dir's cgroup.procs, and in its sub-cgroups', is pid; 0 if another is there. */
static int subtree_only(const char *dir, pid_t pid, unsigned depth)
{
        _cleanup_free_ char *text = NULL;
        DIR *d;
        struct dirent *de;
        int r;

        if (depth > SUBTREE_DEPTH)
                return -ELOOP;
        r = read_full_file_at(dir, "cgroup.procs", CGROUP_TEXT_MAX, &text, NULL);
        if (r < 0)
                return r;
        for (const char *p = text; *p;) {
                const char *eol = strchrnul(p, '\n');
                char buf[16];
                int v;

                if (eol > p) {
                        if ((size_t)(eol - p) >= sizeof(buf))
                                return -EBADMSG;
                        memcpy(buf, p, (size_t)(eol - p));
                        buf[eol - p] = 0;
                        if (safe_atoi(buf, &v) < 0)
                                return -EBADMSG;
                        if ((pid_t)v != pid)
                                return 0;
                }
                p = *eol ? eol + 1 : eol;
        }

        d = opendir(dir);
        if (!d)
                return negative_errno();
        r = 1;
        while (r > 0 && (de = readdir(d))) {
                _cleanup_free_ char *sub = NULL;

                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (asprintf(&sub, "%s/%s", dir, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                r = subtree_only(sub, pid, depth + 1);
                if (r == -ENOENT) /* removed meanwhile */
                        r = 1;
        }
        closedir(d);
        return r;
}

int cgroup_unit_sole_process(const char *sysfs_root, const char *unit_path, pid_t pid)
{
        static const char *const mounts[] = {"/fs/cgroup/systemd", "/fs/cgroup/unified", "/fs/cgroup"};

        if (!unit_path || unit_path[0] != '/' || strstr(unit_path, "/..") || pid <= 0)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(mounts); i++) {
                _cleanup_free_ char *rel = NULL, *full = NULL, *procs = NULL;
                struct stat st;
                int r;

                if (asprintf(&rel, "%s%s", mounts[i], unit_path) < 0)
                        return -ENOMEM;
                r = path_join_root(sysfs_root ?: "/sys", rel, &full);
                if (r < 0)
                        return r;
                if (asprintf(&procs, "%s/cgroup.procs", full) < 0)
                        return -ENOMEM;
                /* Not there, or a plain directory (the tmpfs that holds v1 mounts): the next one. */
                if (stat(procs, &st) < 0) {
                        if (errno == ENOENT || errno == ENOTDIR)
                                continue;
                        return negative_errno();
                }
                return subtree_only(full, pid, 0);
        }
        return -ENOENT;
}

size_t cgroup_unit_mask_from_idset(const struct idset *s, uint8_t *buf)
{
        size_t n = 0;

        memset(buf, 0, CGROUP_UNIT_MASK_MAX);
        IDSET_FOREACH (id, s) {
                buf[id / 8] |= (uint8_t)(1u << (id % 8));
                n = (size_t)id / 8 + 1;
        }
        return n;
}

int cgroup_unit_mask_to_idset(const uint8_t *mask, size_t n, struct idset *ret)
{
        struct idset s = IDSET_EMPTY;

        for (size_t i = 0; i < n; i++)
                for (unsigned j = 0; j < 8; j++)
                        if (mask[i] & (1u << j)) {
                                if (i * 8 + j >= IDSET_MAX)
                                        return -ERANGE;
                                idset_add(&s, (int)(i * 8 + j));
                        }
        *ret = s;
        return 0;
}
