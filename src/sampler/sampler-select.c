/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host capabilities for the memory samplers, and the choice among them. */
#include "sampler-select.h"

#include <errno.h>
#include <sys/stat.h>

#include "sampler-sched.h"
#include "sampler-softdirty.h"
#include "vnuma/basic/fileio.h"
#include "vnuma/basic/macro.h"
#include "vnuma/basic/parse-util.h"
#include "vnuma/host/damon.h"

#define NUMA_BALANCING_PATH "/sys/kernel/numa_balancing"
#define SELF_SCHED_PATH     "/thread-self/sched"

static int read_numa_balancing(const char *procfs_root, bool *ret)
{
        _cleanup_free_ char *line = NULL;
        uint64_t v;
        int r;

        r = read_one_line_at(procfs_root, NUMA_BALANCING_PATH, &line);
        if (r == -ENOENT) { /* kernel built without NUMA balancing */
                *ret = false;
                return 0;
        }
        if (r < 0)
                return r;
        /* 0 off, 1 normal, 2 memory tiering only, 3 both: hinting faults per task need bit 0. */
        if (safe_atou64(line, &v) < 0 || v > 3)
                return -EBADMSG;
        *ret = v & 1;
        return 0;
}

static int read_sched_faults(const char *procfs_root, bool *ret, unsigned *ret_line)
{
        _cleanup_free_ char *text = NULL;
        struct sched_numa_faults f;
        int r;

        r = read_full_file_at(procfs_root, SELF_SCHED_PATH, 256 * 1024, &text, NULL);
        if (r == -ENOENT) { /* kernel without SCHED_DEBUG */
                *ret = false;
                return 0;
        }
        if (r < 0)
                return r;
        r = sched_numa_faults_parse(text, &f, ret_line);
        if (r < 0)
                return r;
        *ret = f.n_nodes > 0;
        return 0;
}

int sampler_caps_read(const char *procfs_root, const char *sysfs_root, bool probe_soft_dirty,
                      struct sampler_caps *ret, const char **ret_what, unsigned *ret_line)
{
        struct sampler_caps caps = {};
        _cleanup_free_ char *damon = NULL;
        struct stat st;
        unsigned line = 0;
        int r;

        procfs_root = procfs_root ?: "/proc";
        sysfs_root = sysfs_root ?: "/sys";
        r = read_numa_balancing(procfs_root, &caps.numa_balancing);
        if (r < 0) {
                if (ret_what)
                        *ret_what = NUMA_BALANCING_PATH;
                if (ret_line)
                        *ret_line = 1;
                return r;
        }
        r = read_sched_faults(procfs_root, &caps.sched_numa_faults, &line);
        if (r < 0) {
                if (ret_what)
                        *ret_what = SELF_SCHED_PATH;
                if (ret_line)
                        *ret_line = line;
                return r;
        }
        if (probe_soft_dirty && soft_dirty_probe(procfs_root, &caps.soft_dirty) < 0)
                caps.soft_dirty = false;
        r = path_join_root(sysfs_root, DAMON_ADMIN_PATH, &damon);
        if (r < 0)
                return r;
        caps.damon = stat(damon, &st) == 0 && S_ISDIR(st.st_mode);
        *ret = caps;
        return 0;
}

int sampler_select(enum sampler_kind requested, const struct sampler_caps *caps, unsigned *ret_flags)
{
        bool hinting = caps->numa_balancing && caps->sched_numa_faults;
        unsigned flags;

        switch (requested) {
        case SAMPLER_AUTO:
                flags = caps->damon        ? SAMPLER_USE_DAMON
                        : hinting          ? SAMPLER_USE_HINTING
                        : caps->soft_dirty ? SAMPLER_USE_SOFT_DIRTY
                                           : 0;
                break;
        case SAMPLER_RESIDENCY:
                flags = 0;
                break;
        case SAMPLER_HINTING:
                if (!hinting)
                        return -EOPNOTSUPP;
                flags = SAMPLER_USE_HINTING;
                break;
        case SAMPLER_SOFT_DIRTY:
                if (!caps->soft_dirty)
                        return -EOPNOTSUPP;
                flags = SAMPLER_USE_SOFT_DIRTY;
                break;
        case SAMPLER_DAMON:
                if (!caps->damon)
                        return -EOPNOTSUPP;
                flags = SAMPLER_USE_DAMON;
                break;
        default:
                return -EINVAL;
        }
        *ret_flags = flags;
        return 0;
}
