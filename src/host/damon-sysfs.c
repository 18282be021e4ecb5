/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DAMON's sysfs interface: claiming a kdamond, (re)starting it on targets, reading the tried
 * regions, and giving the kdamond back. The file layout is usage.rst's "sysfs Interface". */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vnuma/basic/error-message.h"
#include "vnuma/basic/fileio.h"
#include "vnuma/host/damon.h"

#define CTX    "contexts/0"
#define SCHEME CTX "/schemes/0"
#define SMALL  64 /* every value file vnumad reads is one number or word */

struct damon_ctl {
        char *admin;   /* SYSFS/kernel/mm/damon/admin */
        char *kdamond; /* .../kdamonds/0 */
        uint64_t token;
        bool on; /* as far as we turned it */
        bool taken_over, was_on;
};

bool damon_ctl_taken_over(const struct damon_ctl *c, bool *ret_was_on)
{
        if (ret_was_on)
                *ret_was_on = c->was_on;
        return c->taken_over;
}

const char *damon_ctl_dir(const struct damon_ctl *c)
{
        return c->kdamond;
}

/* DAMON's sysfs files answer -EBUSY while another reader or writer holds its lock (a request
 * for tried regions holds it in turns until done): try again a little later. */
#define BUSY_TRIES    50
#define BUSY_SLEEP_US 10000

/* Reads a small file of dirfd (AT_FDCWD with an absolute path). */
static int read_small_at(int dirfd, const char *path, char buf[SMALL])
{
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        ssize_t n = -1;

        if (fd < 0)
                return negative_errno();
        for (unsigned i = 0; i < BUSY_TRIES; i++) {
                n = pread(fd, buf, SMALL - 1, 0);
                if (n >= 0 || errno != EBUSY)
                        break;
                usleep(BUSY_SLEEP_US);
        }
        if (n < 0)
                return negative_errno();
        if (n == SMALL - 1)
                return -EBADMSG; /* no value of ours is that long */
        buf[n] = '\0';
        return 0;
}

static int read_small(const char *dir, const char *rel, char buf[SMALL])
{
        char path[PATH_MAX];

        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path))
                return -ENAMETOOLONG;
        return read_small_at(AT_FDCWD, path, buf);
}

static int read_u64(const char *dir, const char *rel, uint64_t max, uint64_t *ret)
{
        char buf[SMALL];
        int r = read_small(dir, rel, buf);

        return r < 0 ? r : damon_parse_u64(buf, max, ret);
}

static int write_str(const char *dir, const char *rel, const char *value)
{
        char path[PATH_MAX];
        _cleanup_close_ int fd = -1;
        size_t len = strlen(value);

        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path))
                return -ENAMETOOLONG;
        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        for (unsigned i = 0; i < BUSY_TRIES; i++) {
                ssize_t n = pwrite(fd, value, len, 0);

                if (n == (ssize_t)len)
                        return 0;
                if (n >= 0)
                        return -EIO;
                if (errno != EBUSY)
                        break;
                usleep(BUSY_SLEEP_US);
        }
        return negative_errno();
}

static int write_u64(const char *dir, const char *rel, uint64_t v)
{
        char buf[24];

        snprintf(buf, sizeof(buf), "%" PRIu64, v);
        return write_str(dir, rel, buf);
}

static int read_state(const char *kdamond, bool *ret_on)
{
        char buf[SMALL];
        int r = read_small(kdamond, "state", buf);

        return r < 0 ? r : damon_parse_state(buf, ret_on);
}

/* The scheme's token, 0 when the kdamond has no context or scheme (not configured by vnumad). */
static uint64_t read_token(const char *kdamond)
{
        uint64_t token = 0;

        if (read_u64(kdamond, SCHEME "/quotas/reset_interval_ms", UINT64_MAX, &token) < 0)
                return 0;
        return token;
}

static uint64_t new_token(void)
{
        static unsigned counter;

        return (DAMON_TOKEN_MARK << DAMON_TOKEN_SHIFT) | ((uint64_t)(getpid() & 0xfff) << 12) |
               (++counter & 0xfff);
}

/* Every access pattern matches: the stat scheme must try (and so list) every region. */
static int configure(struct damon_ctl *c, char **ret_error)
{
        static const struct {
                const char *file, *value;
        } scheme[] = {
                {SCHEME "/action", "stat"},
                {SCHEME "/access_pattern/sz/min", "0"},
                {SCHEME "/access_pattern/sz/max", "18446744073709551615"},
                {SCHEME "/access_pattern/nr_accesses/min", "0"},
                {SCHEME "/access_pattern/nr_accesses/max", "4294967295"},
                {SCHEME "/access_pattern/age/min", "0"},
                {SCHEME "/access_pattern/age/max", "4294967295"},
        };
        char avail[SMALL * 4], path[PATH_MAX];
        const char *ops;
        struct stat st;
        int r;

        r = write_str(c->kdamond, "contexts/nr_contexts", "1");
        if (r < 0)
                return error_message(ret_error, r, "%s/contexts/nr_contexts: cannot write: %s", c->kdamond,
                                     strerror(-r));
        snprintf(path, sizeof(path), "%s/" CTX "/avail_operations", c->kdamond);
        {
                _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
                ssize_t n = fd < 0 ? -1 : read(fd, avail, sizeof(avail) - 1);

                if (n < 0)
                        return error_message(ret_error, negative_errno(), "%s: cannot read: %m", path);
                avail[n] = '\0';
        }
        /* avail_operations lists what the kernel has, not just what it was built with. */
        ops = damon_ops_available(avail, "fvaddr") ? "fvaddr" : NULL;
        if (!ops)
                return error_message(ret_error, -EOPNOTSUPP,
                                     "%s: no fvaddr operations (CONFIG_DAMON_VADDR) in \"%.*s\"", path,
                                     (int)strcspn(avail, "\n"), avail);
        r = write_str(c->kdamond, CTX "/operations", ops);
        if (r >= 0)
                r = write_str(c->kdamond, CTX "/schemes/nr_schemes", "1");
        if (r < 0)
                return error_message(ret_error, r, "%s/" CTX ": cannot set up the context: %s", c->kdamond,
                                     strerror(-r));
        snprintf(path, sizeof(path), "%s/" SCHEME "/tried_regions", c->kdamond);
        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
                return error_message(ret_error, -EOPNOTSUPP,
                                     "%s: missing: this kernel's DAMON cannot list regions (6.2 or later)",
                                     path);
        for (size_t i = 0; i < ELEMENTSOF(scheme); i++) {
                r = write_str(c->kdamond, scheme[i].file, scheme[i].value);
                if (r < 0)
                        return error_message(ret_error, r, "%s/%s: cannot write: %s", c->kdamond,
                                             scheme[i].file, strerror(-r));
        }
        r = write_u64(c->kdamond, SCHEME "/quotas/reset_interval_ms", c->token);
        if (r < 0)
                return error_message(ret_error, r, "%s/" SCHEME "/quotas/reset_interval_ms: %s", c->kdamond,
                                     strerror(-r));
        return 0;
}

int damon_ctl_claim(const char *sysfs_root, struct damon_ctl **ret, char **ret_error)
{
        _cleanup_(damon_ctl_freep) struct damon_ctl *c = NULL;
        uint64_t n = 0;
        bool on = false;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        r = path_join_root(sysfs_root ?: "/sys", DAMON_ADMIN_PATH, &c->admin);
        if (r < 0)
                return r;
        if (asprintf(&c->kdamond, "%s/kdamonds/0", c->admin) < 0) {
                c->kdamond = NULL;
                return -ENOMEM;
        }
        r = read_u64(c->admin, "kdamonds/nr_kdamonds", 4096, &n);
        if (r < 0)
                return error_message(ret_error, r == -ENOENT ? -ENOENT : r,
                                     "%s/kdamonds/nr_kdamonds: %s (no DAMON sysfs interface)", c->admin,
                                     strerror(-r));
        if (n > 0) {
                uint64_t token = read_token(c->kdamond);

                r = read_state(c->kdamond, &on);
                if (r < 0)
                        return error_message(ret_error, r, "%s/state: %s", c->kdamond, strerror(-r));
                if (n > 1 || !damon_token_is_ours(token))
                        return error_message(ret_error, -EBUSY,
                                             "%s: %" PRIu64 " kdamond(s) configured by someone else "
                                             "(kdamond 0 is %s); left alone",
                                             c->admin, n, on ? "on" : "off");
                /* A kdamond of an earlier vnumad (or of the sampler a reload replaces): ours now. */
                c->taken_over = true;
                c->was_on = on;
                if (on) {
                        r = write_str(c->kdamond, "state", "off");
                        if (r < 0)
                                return error_message(ret_error, r, "%s/state: cannot turn off: %s",
                                                     c->kdamond, strerror(-r));
                }
        } else {
                r = write_str(c->admin, "kdamonds/nr_kdamonds", "1");
                if (r < 0)
                        return error_message(ret_error, r, "%s/kdamonds/nr_kdamonds: cannot write: %s",
                                             c->admin, strerror(-r));
        }
        c->token = new_token();
        r = configure(c, ret_error);
        if (r < 0) {
                /* Created or taken over by us: give it back rather than leave a half-made one. */
                (void)write_str(c->admin, "kdamonds/nr_kdamonds", "0");
                c->token = 0;
                return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

int damon_ctl_stop(struct damon_ctl *c)
{
        bool on = false;
        int r;

        r = read_state(c->kdamond, &on);
        if (r < 0)
                return r;
        c->on = false;
        if (!on)
                return 0;
        r = write_str(c->kdamond, "state", "off");
        /* It may have stopped on its own in between (every target exited). */
        if (r < 0 && read_state(c->kdamond, &on) >= 0 && !on)
                return 0;
        return r;
}

int damon_ctl_running(struct damon_ctl *c, bool *ret)
{
        return read_state(c->kdamond, ret);
}

struct damon_ctl *damon_ctl_free(struct damon_ctl *c)
{
        if (!c)
                return NULL;
        /* Only what is still ours: a newer controller may have taken the kdamond over. */
        if (c->kdamond && c->token != 0 && read_token(c->kdamond) == c->token) {
                (void)damon_ctl_stop(c);
                (void)write_str(c->admin, "kdamonds/nr_kdamonds", "0");
        }
        free(c->admin);
        free(c->kdamond);
        free(c);
        return NULL;
}

static int write_attrs(struct damon_ctl *c, const struct damon_attrs *a)
{
        static const char *const files[] = {
                CTX "/monitoring_attrs/intervals/sample_us", CTX "/monitoring_attrs/intervals/aggr_us",
                CTX "/monitoring_attrs/intervals/update_us", CTX "/monitoring_attrs/nr_regions/max",
                CTX "/monitoring_attrs/nr_regions/min",
        };
        const uint64_t values[] = {a->sample_us, a->aggr_us, a->update_us, a->max_nr_regions,
                                   a->min_nr_regions};

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                int r = write_u64(c->kdamond, files[i], values[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int write_target(struct damon_ctl *c, size_t i, const struct damon_target *t)
{
        char dir[PATH_MAX];
        int r;

        snprintf(dir, sizeof(dir), "%s/" CTX "/targets/%zu", c->kdamond, i);
        r = write_u64(dir, "pid_target", (uint64_t)t->pid);
        if (r >= 0)
                r = write_u64(dir, "regions/nr_regions", t->n_ranges);
        for (unsigned j = 0; j < t->n_ranges && r >= 0; j++) {
                char rel[64];

                snprintf(rel, sizeof(rel), "regions/%u/start", j);
                r = write_u64(dir, rel, t->ranges[j].start);
                if (r < 0)
                        break;
                snprintf(rel, sizeof(rel), "regions/%u/end", j);
                r = write_u64(dir, rel, t->ranges[j].end);
        }
        return r;
}

int damon_ctl_start(struct damon_ctl *c, const struct damon_attrs *a, const struct damon_target *targets,
                    size_t n_targets)
{
        int r;

        if (n_targets > DAMON_TARGETS_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n_targets; i++)
                if (damon_target_check(&targets[i]) < 0)
                        return -EINVAL;
        r = damon_ctl_stop(c);
        if (r < 0)
                return r;
        if (n_targets == 0)
                return 0;
        r = write_attrs(c, a);
        if (r >= 0)
                r = write_u64(c->kdamond, CTX "/targets/nr_targets", n_targets);
        for (size_t i = 0; i < n_targets && r >= 0; i++)
                r = write_target(c, i, &targets[i]);
        if (r >= 0)
                r = write_str(c->kdamond, "state", "on");
        if (r < 0)
                return r;
        c->on = true;
        return 0;
}

static int read_region(int dirfd, size_t i, struct damon_region *ret)
{
        char path[48], buf[SMALL];
        uint64_t start, end, acc;
        int r;

        snprintf(path, sizeof(path), "%zu/start", i);
        r = read_small_at(dirfd, path, buf);
        if (r >= 0)
                r = damon_parse_u64(buf, DAMON_ADDRESS_MAX, &start);
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "%zu/end", i);
        r = read_small_at(dirfd, path, buf);
        if (r >= 0)
                r = damon_parse_u64(buf, DAMON_ADDRESS_MAX, &end);
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "%zu/nr_accesses", i);
        r = read_small_at(dirfd, path, buf);
        if (r >= 0)
                r = damon_parse_u64(buf, DAMON_NR_ACCESSES_MAX, &acc);
        if (r < 0)
                return r;
        if (start >= end)
                return -EBADMSG;
        *ret = (struct damon_region){.start = start, .end = end, .nr_accesses = (uint32_t)acc};
        return 0;
}

/* The number of region directories: names 0 .. n-1, nothing else numeric. */
static int count_regions(int dirfd, size_t *ret)
{
        _cleanup_close_ int fd = dup(dirfd);
        DIR *d;
        struct dirent *de;
        size_t n = 0;
        uint64_t max_idx = 0;

        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d)
                return negative_errno();
        fd = -1;
        while ((de = readdir(d))) {
                uint64_t idx;

                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue; /* ".", "..", total_bytes */
                if (damon_parse_u64(de->d_name, DAMON_REGIONS_MAX, &idx) < 0 || ++n > DAMON_REGIONS_MAX) {
                        closedir(d);
                        return -E2BIG;
                }
                max_idx = idx > max_idx ? idx : max_idx;
        }
        closedir(d);
        if (n > 0 && max_idx != n - 1)
                return -EBADMSG;
        *ret = n;
        return 0;
}

int damon_ctl_update(struct damon_ctl *c, struct damon_region **ret, size_t *ret_n)
{
        _cleanup_free_ struct damon_region *regions = NULL;
        _cleanup_close_ int dirfd = -1;
        char path[PATH_MAX];
        size_t n = 0;
        int r;

        r = write_str(c->kdamond, "state", "update_schemes_tried_regions");
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "%s/" SCHEME "/tried_regions", c->kdamond);
        dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return negative_errno();
        r = count_regions(dirfd, &n);
        if (r < 0)
                return r;
        regions = calloc(n ? n : 1, sizeof(*regions));
        if (!regions)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = read_region(dirfd, i, &regions[i]);
                if (r < 0)
                        return r == -ERANGE ? -EBADMSG : r;
        }
        *ret = TAKE_PTR(regions);
        *ret_n = n;
        return 0;
}
