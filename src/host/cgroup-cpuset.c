/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/host/cgroup-cpuset.h"

#include <errno.h>
#include <libcgroup.h>
#include <limits.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "vnuma/basic/fileio.h"
#include "vnuma/basic/log.h"
#include "vnuma/basic/macro.h"

#define CPUSET "cpuset"

/* What cpuset_cgroup_probe found; set once, on success. libcgroup keeps its own process-wide
 * mount table, so this mirrors state that is global anyway. */
static struct {
        enum cpuset_version version;
        char *mount;
} probed;

static void cgroupp(struct cgroup **g)
{
        cgroup_free(g);
}
#define _cleanup_cgroup_ _cleanup_(cgroupp)

/* libcgroup reports through an int of its own (ECG*), with the errno behind ECGOTHER. */
static int errno_of(int ecg)
{
        int e;

        switch (ecg) {
        case 0:
                return 0;
        case ECGOTHER:
                e = cgroup_get_last_errno();
                return e > 0 ? -e : -EIO;
        case ECGROUPNOTEXIST:
        case ECGROUPVALUENOTEXIST:
                return -ENOENT;
        case ECGROUPNOTMOUNTED:
        case ECGROUPSUBSYSNOTMOUNTED:
        case ECGROUPNOTCOMPILED:
                return -EOPNOTSUPP;
        case ECGROUPNOTOWNER:
                return -EPERM;
        case ECGROUPNOTALLOWED:
                return -EACCES;
        case ECGINVAL:
                return -EINVAL;
        case ECGNONEMPTY:
                return -EBUSY;
        default:
                return -EIO;
        }
}

/* libcgroup would print warnings to stderr; library code logs at debug level only. */
_printf_(3, 0) static void forward_log(void *userdata, int level, const char *fmt, va_list ap)
{
        char buf[512];
        size_t n;

        (void)vsnprintf(buf, sizeof(buf), fmt, ap);
        n = strlen(buf);
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = 0;
        log_debug("libcgroup: %s", buf);
}

int cpuset_cgroup_probe(enum cpuset_version *ret)
{
        char *mount = NULL;
        struct statfs sfs;
        int r;

        if (probed.mount) {
                if (ret)
                        *ret = probed.version;
                return 0;
        }
        cgroup_set_logger(forward_log, CGROUP_LOG_DEBUG, NULL);
        r = cgroup_init();
        if (r != 0)
                return log_debug_errno(errno_of(r) == -ENOENT ? -EOPNOTSUPP : errno_of(r),
                                       "cgroup-cpuset: libcgroup init: %s", cgroup_strerror(r));
        r = cgroup_get_subsys_mount_point(CPUSET, &mount);
        if (r != 0 || !mount) {
                free(mount);
                return log_debug_errno(-EOPNOTSUPP, "cgroup-cpuset: no cpuset controller mounted");
        }
        if (statfs(mount, &sfs) < 0) {
                r = negative_errno();
                free(mount);
                return r;
        }
        probed.version = sfs.f_type == CGROUP2_SUPER_MAGIC ? CPUSET_V2 : CPUSET_V1;
        probed.mount = mount;
        log_debug("cgroup-cpuset: cpuset on cgroup v%d at %s", (int)probed.version, mount);
        if (ret)
                *ret = probed.version;
        return 0;
}

int cpuset_cgroup_parse_proc(const char *text, enum cpuset_version version, char **ret)
{
        const char *line = text;

        while (line && *line) {
                const char *eol = strchrnul(line, '\n'), *c1, *c2;

                if (eol == line) {
                        line = *eol ? eol + 1 : NULL;
                        continue;
                }
                c1 = memchr(line, ':', (size_t)(eol - line));
                c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
                if (!c2 || c2 + 1 == eol || c2[1] != '/')
                        return log_debug_errno(-EBADMSG, "cgroup-cpuset: not a /proc cgroup line: \"%.*s\"",
                                               (int)MIN(eol - line, 80), line);

                bool match = false;
                if (version == CPUSET_V2)
                        match = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
                else
                        for (const char *p = c1 + 1; p < c2;) {
                                const char *end = memchr(p, ',', (size_t)(c2 - p)) ?: c2;

                                if (end - p == (long)strlen(CPUSET) &&
                                    strncmp(p, CPUSET, strlen(CPUSET)) == 0)
                                        match = true;
                                p = end + 1;
                        }
                if (match) {
                        char *s = strndup(c2 + 1, (size_t)(eol - c2 - 1));

                        if (!s)
                                return -ENOMEM;
                        *ret = s;
                        return 0;
                }
                line = *eol ? eol + 1 : NULL;
        }
        return -ENOENT;
}

int cpuset_cgroup_of_thread(const char *procfs_root, pid_t pid, pid_t tid, enum cpuset_version version,
                            char **ret)
{
        _cleanup_free_ char *text = NULL;
        char path[64];
        int r;

        snprintf(path, sizeof(path), "/%d/task/%d/cgroup", (int)pid, (int)tid);
        r = read_full_file_at(procfs_root ?: "/proc", path, 1 << 16, &text, NULL);
        if (r == -ENOENT)
                return -ESRCH;
        if (r < 0)
                return r;
        return cpuset_cgroup_parse_proc(text, version, ret);
}

bool cpuset_cgroup_path_is_valid(const char *path)
{
        const char *p = path;

        if (!path)
                return false;
        while (*p == '/')
                p++;
        if (!*p)
                return false;
        while (*p) {
                size_t n = strcspn(p, "/");

                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') || n > 255)
                        return false;
                for (size_t i = 0; i < n; i++)
                        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@-",
                                    p[i]))
                                return false;
                p += n;
                if (*p == '/') {
                        p++;
                        if (!*p)
                                return false;
                }
        }
        return true;
}

static const char *strip_slash(const char *path)
{
        while (path && *path == '/')
                path++;
        return path ?: "";
}

static int read_idset(const char *path, const char *file, struct idset *ret)
{
        _cleanup_free_ char *rel = NULL, *line = NULL;
        int r;

        if (asprintf(&rel, "%s/%s", strip_slash(path), file) < 0)
                return -ENOMEM;
        r = read_one_line_at(probed.mount, rel, &line);
        if (r < 0)
                return log_debug_errno(r, "cgroup-cpuset: cannot read %s/%s: %m", probed.mount, rel);
        r = idset_parse(line, ret);
        if (r < 0)
                return log_debug_errno(-EBADMSG, "cgroup-cpuset: %s/%s: not a list: \"%.40s\"", probed.mount,
                                       rel, line);
        return 0;
}

int cpuset_cgroup_get_effective(const char *path, struct idset *ret_cpus, struct idset *ret_mems)
{
        struct idset cpus, mems;
        bool v2;
        int r;

        r = cpuset_cgroup_probe(NULL);
        if (r < 0)
                return r;
        v2 = probed.version == CPUSET_V2;
        r = read_idset(path, v2 ? "cpuset.cpus.effective" : "cpuset.effective_cpus", &cpus);
        if (r < 0)
                return r;
        r = read_idset(path, v2 ? "cpuset.mems.effective" : "cpuset.effective_mems", &mems);
        if (r < 0)
                return r;
        if (ret_cpus)
                *ret_cpus = cpus;
        if (ret_mems)
                *ret_mems = mems;
        return 0;
}

int cpuset_cgroup_get_mems(const char *path, struct idset *ret_mems)
{
        int r = cpuset_cgroup_probe(NULL);

        if (r < 0)
                return r;
        return read_idset(path, "cpuset.mems", ret_mems);
}

static int dir_exists(const char *rel)
{
        _cleanup_free_ char *full = NULL;
        struct stat st;
        int r;

        r = path_join_root(probed.mount, rel, &full);
        if (r < 0)
                return r;
        if (stat(full, &st) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        return S_ISDIR(st.st_mode) ? 1 : -ENOTDIR;
}

/* rmdir, not cgroup_delete_cgroup_ext: with CGFLAG_DELETE_EMPTY_ONLY libcgroup 2.0.2 reported
 * success on a cgroup that still had tasks, and without it, it moves the tasks to the parent. */
static int remove_dir(const char *rel)
{
        _cleanup_free_ char *full = NULL;
        int r;

        r = path_join_root(probed.mount, rel, &full);
        if (r < 0)
                return r;
        if (rmdir(full) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        return 0;
}

/* One cgroup name with the cpuset controller and, optionally, cpus and mems values. */
static int cgroup_with_values(const char *name, const char *cpus, const char *mems, struct cgroup **ret)
{
        _cleanup_cgroup_ struct cgroup *g = NULL;
        struct cgroup_controller *c;

        g = cgroup_new_cgroup(name);
        if (!g)
                return -ENOMEM;
        c = cgroup_add_controller(g, CPUSET);
        if (!c)
                return -ENOMEM;
        /* cpus before mems; a new v1 cpuset needs both before it can take tasks. */
        if (cpus && cgroup_add_value_string(c, "cpuset.cpus", cpus) != 0)
                return -ENOMEM;
        if (mems && cgroup_add_value_string(c, "cpuset.mems", mems) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(g);
        return 0;
}

/* Creates one level. On v1 it starts as a copy of the parent's effective sets (what libvirt does
 * for its own cpusets); mems, if given, replaces the parent's memory nodes. */
static int create_level(const char *rel, const char *parent, const char *mems)
{
        _cleanup_cgroup_ struct cgroup *g = NULL;
        char cpus_buf[4096], mems_buf[4096];
        const char *cpus = NULL;
        int r;

        if (probed.version == CPUSET_V1) {
                struct idset pc, pm;

                r = cpuset_cgroup_get_effective(parent, &pc, &pm);
                if (r < 0)
                        return r;
                r = idset_format(&pc, cpus_buf, sizeof(cpus_buf));
                if (r < 0)
                        return r;
                cpus = cpus_buf;
                if (!mems) {
                        r = idset_format(&pm, mems_buf, sizeof(mems_buf));
                        if (r < 0)
                                return r;
                        mems = mems_buf;
                }
        }
        r = cgroup_with_values(rel, cpus, mems, &g);
        if (r < 0)
                return r;
        r = cgroup_create_cgroup(g, /* ignore_ownership= */ 1);
        if (r != 0) {
                int e = errno_of(r);

                /* libcgroup 2.0.2 leaves the directory behind when a value is refused. */
                (void)remove_dir(rel);
                return log_debug_errno(e, "cgroup-cpuset: cannot create %s (mems %s): %s", rel, strna(mems),
                                       cgroup_strerror(r));
        }
        return 0;
}

#define CGROUP_LEVELS_MAX 16

int cpuset_cgroup_set_mems(const char *path, const struct idset *mems, bool *ret_created)
{
        const char *rel = strip_slash(path);
        char mems_buf[4096];
        size_t ends[CGROUP_LEVELS_MAX];
        int n_levels = 0, first_created = -1, level, r = 0;

        if (!cpuset_cgroup_path_is_valid(path) || !mems || idset_is_empty(mems))
                return -EINVAL;
        r = cpuset_cgroup_probe(NULL);
        if (r < 0)
                return r;
        r = idset_format(mems, mems_buf, sizeof(mems_buf));
        if (r < 0)
                return r;
        for (size_t i = 0;; i++)
                if (rel[i] == '/' || rel[i] == 0) {
                        if (n_levels == CGROUP_LEVELS_MAX)
                                return -EINVAL;
                        ends[n_levels++] = i;
                        if (!rel[i])
                                break;
                }

        /* Top-down: each level's parent must exist (and on v1 be populated) first. */
        for (level = 0; level < n_levels; level++) {
                _cleanup_free_ char *cur = strndup(rel, ends[level]);
                _cleanup_free_ char *parent = strndup(rel, level > 0 ? ends[level - 1] : 0);
                bool leaf = level == n_levels - 1;

                if (!cur || !parent)
                        return -ENOMEM;
                r = dir_exists(cur);
                if (r == 0) {
                        r = create_level(cur, parent, leaf ? mems_buf : NULL);
                        if (r >= 0 && first_created < 0)
                                first_created = level;
                } else if (r > 0 && leaf) {
                        _cleanup_cgroup_ struct cgroup *g = NULL;

                        r = cgroup_with_values(cur, NULL, mems_buf, &g);
                        if (r >= 0) {
                                r = cgroup_modify_cgroup(g);
                                if (r != 0)
                                        r = log_debug_errno(errno_of(r),
                                                            "cgroup-cpuset: cannot set %s mems %s: %s", cur,
                                                            mems_buf, cgroup_strerror(r));
                        }
                }
                if (r < 0)
                        break;
        }
        if (r < 0) {
                /* Undo the levels made here, deepest first (create_level cleans up its own). */
                for (int l = level - 1; first_created >= 0 && l >= first_created; l--) {
                        _cleanup_free_ char *cur = strndup(rel, ends[l]);

                        if (cur)
                                (void)remove_dir(cur);
                }
                return r;
        }
        if (ret_created)
                *ret_created = first_created >= 0; /* a created level makes every deeper one new too */
        return 0;
}

struct entered {
        pid_t tid;
        char *from; /* cgroup path before the move */
        cpu_set_t mask;
        bool have_mask;
};

static int attach(const char *path, pid_t tid)
{
        _cleanup_cgroup_ struct cgroup *g = NULL;
        int r;

        r = cgroup_with_values(path, NULL, NULL, &g);
        if (r < 0)
                return r;
        r = cgroup_attach_task_pid(g, tid);
        if (r != 0)
                return log_debug_errno(errno_of(r), "cgroup-cpuset: cannot move %d into %s: %s", (int)tid,
                                       path, cgroup_strerror(r));
        return 0;
}

/* Moving into a cpuset resets a thread's CPU affinity (kernels before 6.2 do not keep the
 * sched_setaffinity mask); put the pin back. */
static void restore_mask(const struct entered *e)
{
        if (e->have_mask && sched_setaffinity(e->tid, sizeof(e->mask), &e->mask) < 0)
                log_debug("cgroup-cpuset: cannot restore the CPU affinity of %d: %m", (int)e->tid);
}

static int save_mask(struct entered *e)
{
        if (sched_getaffinity(e->tid, sizeof(e->mask), &e->mask) < 0)
                return negative_errno();
        e->have_mask = true;
        return 0;
}

/* v2: a domain cgroup holds whole processes, so one write of the pid moves every thread at once
 * and either all move or none does. */
static int enter_v2(const char *path, pid_t pid, struct entered *e, size_t n)
{
        int r;

        for (size_t i = 0; i < n; i++) {
                r = save_mask(&e[i]);
                if (r < 0)
                        return r;
        }
        r = attach(path, pid);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                restore_mask(&e[i]);
        return 0;
}

/* v1: thread by thread. A failure sends the threads moved so far back where they came from. */
static int enter_v1(const char *procfs_root, const char *path, pid_t pid, struct entered *e, size_t n)
{
        size_t done;
        int r = 0;

        for (done = 0; done < n; done++) {
                r = cpuset_cgroup_of_thread(procfs_root, pid, e[done].tid, CPUSET_V1, &e[done].from);
                if (r >= 0)
                        r = save_mask(&e[done]);
                if (r >= 0)
                        r = attach(path, e[done].tid);
                if (r < 0)
                        break;
                restore_mask(&e[done]);
        }
        if (r < 0)
                for (size_t i = done; i-- > 0;) {
                        if (attach(e[i].from, e[i].tid) < 0)
                                log_debug("cgroup-cpuset: cannot move %d back to %s", (int)e[i].tid,
                                          e[i].from);
                        restore_mask(&e[i]);
                }
        return r;
}

int cpuset_cgroup_enter(const char *procfs_root, const char *path, pid_t pid, const pid_t *tids,
                        size_t n_tids, unsigned *ret_moved)
{
        struct entered *e;
        int r;

        if (!cpuset_cgroup_path_is_valid(path) || pid <= 0 || n_tids == 0 || !tids || n_tids > UINT_MAX)
                return -EINVAL;
        r = cpuset_cgroup_probe(NULL);
        if (r < 0)
                return r;
        e = calloc(n_tids, sizeof(*e));
        if (!e)
                return -ENOMEM;
        for (size_t i = 0; i < n_tids; i++)
                e[i].tid = tids[i];
        if (probed.version == CPUSET_V2)
                r = enter_v2(path, pid, e, n_tids);
        else
                r = enter_v1(procfs_root, path, pid, e, n_tids);
        for (size_t i = 0; i < n_tids; i++)
                free(e[i].from);
        free(e);
        if (r < 0)
                return r;
        if (ret_moved)
                *ret_moved = (unsigned)n_tids;
        return 0;
}

int cpuset_cgroup_remove(const char *path)
{
        int r;

        if (!cpuset_cgroup_path_is_valid(path))
                return -EINVAL;
        r = cpuset_cgroup_probe(NULL);
        if (r < 0)
                return r;
        return remove_dir(strip_slash(path));
}
