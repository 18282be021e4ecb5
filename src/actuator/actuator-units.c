/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "actuator-units.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vnuma/basic/fileio.h"
#include "vnuma/basic/log.h"
#include "vnuma/host/cgroup-unit.h"
#include "vnuma/host/proc-task.h"

#define RECORD_MAX 8192

static int record_path(const struct actuator *a, const char *unit, char **ret)
{
        if (!cgroup_unit_name_is_valid(unit))
                return -EINVAL;
        return asprintf(ret, "%s/%s", a->state_dir, unit) < 0 ? -ENOMEM : 0;
}

/* STATE_DIR, and its parent (/run/vnumad) if missing; only root reads the records. */
static int make_state_dir(const struct actuator *a)
{
        _cleanup_free_ char *parent = strdup(a->state_dir);
        char *slash;

        if (!parent)
                return -ENOMEM;
        slash = strrchr(parent, '/');
        if (slash && slash != parent) {
                *slash = 0;
                if (mkdir(parent, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
        }
        if (mkdir(a->state_dir, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}

int actuator_unit_record(struct actuator *a, const char *unit, const struct idset *cpus,
                         const struct idset *mems)
{
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        char c[4096], m[4096];
        FILE *f;
        int r;

        r = record_path(a, unit, &path);
        if (r < 0)
                return r;
        r = idset_format(cpus, c, sizeof(c));
        if (r >= 0)
                r = idset_format(mems, m, sizeof(m));
        if (r < 0)
                return r;
        r = make_state_dir(a);
        if (r < 0)
                return r;
        if (asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        f = fopen(tmp, "we");
        if (!f)
                return negative_errno();
        fprintf(f, "cpus=%s\nmems=%s\n", c, m);
        if (fflush(f) != 0 || ferror(f)) {
                r = negative_errno();
                fclose(f);
                (void)unlink(tmp);
                return r ?: -EIO;
        }
        fclose(f);
        if (rename(tmp, path) < 0) {
                r = negative_errno();
                (void)unlink(tmp);
                return r;
        }
        return 0;
}

void actuator_unit_unrecord(struct actuator *a, const char *unit)
{
        _cleanup_free_ char *path = NULL;

        if (record_path(a, unit, &path) >= 0 && unlink(path) < 0 && errno != ENOENT)
                log_debug("actuator: cannot remove %s: %m", path);
}

/* "cpus=LIST\nmems=LIST\n" */
static int record_parse(const char *text, struct idset *ret_cpus, struct idset *ret_mems)
{
        struct idset cpus = IDSET_EMPTY, mems = IDSET_EMPTY;
        unsigned seen = 0;

        for (const char *p = text; *p;) {
                const char *eol = strchrnul(p, '\n');
                _cleanup_free_ char *line = strndup(p, (size_t)(eol - p));

                if (!line)
                        return -ENOMEM;
                if (strncmp(line, "cpus=", 5) == 0 && idset_parse(line + 5, &cpus) >= 0)
                        seen |= 1;
                else if (strncmp(line, "mems=", 5) == 0 && idset_parse(line + 5, &mems) >= 0)
                        seen |= 2;
                else if (*line)
                        return -EBADMSG;
                p = *eol ? eol + 1 : eol;
        }
        if (seen != 3)
                return -EBADMSG;
        *ret_cpus = cpus;
        *ret_mems = mems;
        return 0;
}

int actuator_unit_set(struct actuator *a, pid_t pid, const char *unit, const struct idset *cpus,
                      const struct idset *mems, char **ret_error)
{
        _cleanup_free_ pid_t *tids = NULL;
        _cleanup_free_ cpu_set_t *masks = NULL;
        size_t n = 0;
        int r;

        if (pid > 0 && proc_task_list(a->procfs_root, pid, &tids, &n) >= 0 && n > 0) {
                masks = calloc(n, sizeof(*masks));
                if (!masks)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++)
                        if (sched_getaffinity(tids[i], sizeof(masks[i]), &masks[i]) < 0)
                                CPU_ZERO(&masks[i]); /* gone: nothing to restore */
        }
        r = a->unit_set(unit, cpus, mems, ret_error);
        for (size_t i = 0; masks && i < n; i++)
                /* The kernel intersects with the new cpuset; a thread pinned wholly outside it keeps
                 * what the cgroup gave it. */
                if (CPU_COUNT(&masks[i]) > 0)
                        (void)a->setaffinity(tids[i], &masks[i]);
        return r;
}

static struct actuator_undo *undo_find(struct actuator *a, const char *unit)
{
        for (size_t i = 0; i < a->n_undo; i++)
                if (streq(a->undo[i].unit, unit))
                        return &a->undo[i];
        return NULL;
}

static void undo_remove(struct actuator *a, struct actuator_undo *u)
{
        free(u->unit);
        *u = a->undo[--a->n_undo];
}

int actuator_undo_add(struct actuator *a, const char *unit, const struct idset *cpus,
                      const struct idset *mems, pid_t pid)
{
        struct actuator_undo *u = undo_find(a, unit), *v;
        char *copy;

        if (u) {
                *u = (struct actuator_undo){.unit = u->unit, .cpus = *cpus, .mems = *mems, .pid = pid};
                return 0;
        }
        copy = strdup(unit);
        if (!copy)
                return -ENOMEM;
        v = reallocarray(a->undo, a->n_undo + 1, sizeof(*a->undo));
        if (!v) {
                free(copy);
                return -ENOMEM;
        }
        a->undo = v;
        a->undo[a->n_undo++] =
                (struct actuator_undo){.unit = copy, .cpus = *cpus, .mems = *mems, .pid = pid};
        return 0;
}

void actuator_undo_cancel(struct actuator *a, const char *unit)
{
        struct actuator_undo *u = undo_find(a, unit);

        if (u)
                undo_remove(a, u);
}

static bool unit_held(struct actuator *a, const char *unit)
{
        for (size_t i = 0; i < a->n_vms; i++)
                if (a->vms[i].unit_set && streq(a->vms[i].unit, unit))
                        return true;
        return false;
}

/* What an earlier run set and did not lift (it was stopped, or crashed) is lifted now. */
static void reconcile(struct actuator *a)
{
        DIR *d = opendir(a->state_dir);
        struct dirent *de;

        a->reconciled = true;
        if (!d) {
                if (errno != ENOENT)
                        log_debug("actuator: cannot read %s: %m", a->state_dir);
                return;
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *text = NULL;
                struct idset cpus, mems;

                if (!cgroup_unit_name_is_valid(de->d_name) || unit_held(a, de->d_name) ||
                    undo_find(a, de->d_name))
                        continue;
                if (read_full_file_at(a->state_dir, de->d_name, RECORD_MAX, &text, NULL) < 0 ||
                    record_parse(text, &cpus, &mems) < 0) {
                        log_debug("actuator: %s/%s: not a record, ignored", a->state_dir, de->d_name);
                        continue;
                }
                if (actuator_undo_add(a, de->d_name, &cpus, &mems, 0) < 0)
                        break;
        }
        closedir(d);
}

/* 0: lifted, or nothing of vnumad's left to lift; -errno: try again. */
static int lift(struct actuator *a, const struct actuator_undo *u, char **ret_error)
{
        struct idset cpus, mems, none = IDSET_EMPTY;
        int r;

        r = a->unit_get(u->unit, &cpus, &mems, ret_error);
        if (r == -ENOENT)
                return 0; /* the unit is gone, and its cgroup with it */
        if (r < 0)
                return r;
        if (!idset_equal(&cpus, &u->cpus) || !idset_equal(&mems, &u->mems)) {
                log_debug("actuator: %s was changed by someone else since; left as it is", u->unit);
                return 0;
        }
        r = actuator_unit_set(a, u->pid, u->unit, &none, &none, ret_error);
        return r == -ENOENT ? 0 : r;
}

static bool power_of_two(unsigned v)
{
        return v && !(v & (v - 1));
}

int actuator_undo_run(struct actuator *a, char **ret_message)
{
        char *message = NULL;

        if (!a->reconciled)
                reconcile(a);
        for (size_t i = 0; i < a->n_undo;) {
                struct actuator_undo *u = &a->undo[i];
                _cleanup_free_ char *error = NULL;
                int r;

                if (unit_held(a, u->unit)) { /* restricted again meanwhile */
                        undo_remove(a, u);
                        continue;
                }
                r = lift(a, u, &error);
                if (r >= 0) {
                        log_debug("actuator: %s: AllowedCPUs= and AllowedMemoryNodes= lifted", u->unit);
                        actuator_unit_unrecord(a, u->unit);
                        undo_remove(a, u);
                        continue;
                }
                u->tries++;
                if (!message && power_of_two(u->tries)) {
                        char c[64], m[64];

                        if (idset_format(&u->cpus, c, sizeof(c)) < 0)
                                snprintf(c, sizeof(c), "(long list)");
                        if (idset_format(&u->mems, m, sizeof(m)) < 0)
                                snprintf(m, sizeof(m), "(long list)");
                        if (asprintf(&message,
                                     "Unit %s: cannot lift AllowedCPUs=%s AllowedMemoryNodes=%s that vnumad "
                                     "set "
                                     "(attempt %u, tried again every period): %s",
                                     u->unit, c, m, u->tries, error ?: strerror(-r)) < 0)
                                message = NULL;
                }
                i++;
        }
        if (message && ret_message)
                *ret_message = message;
        else
                free(message);
        return (int)a->n_undo;
}

void actuator_undo_free(struct actuator *a)
{
        while (a->n_undo > 0)
                undo_remove(a, &a->undo[a->n_undo - 1]);
        free(a->undo);
        a->undo = NULL;
}
