/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/host/proc-task.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vnuma/basic/fileio.h"
#include "vnuma/basic/macro.h"
#include "vnuma/basic/parse-util.h"

#define STAT_PROCESSOR_FIELD 39

int proc_stat_parse(const char *text, int *ret_last_cpu, char *ret_comm, size_t comm_size)
{
        const char *open = strchr(text, '('), *close = strrchr(text, ')'), *p;
        int field = 2; /* comm is field 2 */
        long cpu;
        char *end;

        if (!open || !close || close < open || close[1] != ' ')
                return -EBADMSG;
        p = close + 1;
        while (*p) {
                while (*p == ' ')
                        p++;
                if (!*p || *p == '\n')
                        break;
                field++;
                if (field == STAT_PROCESSOR_FIELD) {
                        cpu = strtol(p, &end, 10);
                        if (end == p || cpu < 0 || cpu >= IDSET_MAX || (*end != ' ' && *end != '\n' && *end))
                                return -EBADMSG;
                        if (ret_comm && comm_size) {
                                size_t n = MIN((size_t)(close - open - 1), comm_size - 1);
                                memcpy(ret_comm, open + 1, n);
                                ret_comm[n] = '\0';
                        }
                        *ret_last_cpu = (int)cpu;
                        return 0;
                }
                p += strcspn(p, " \n");
        }
        return -EBADMSG;
}

int proc_status_parse(const char *text, pid_t *ret_tgid, struct idset *ret_affinity)
{
        const char *tgid = strstr(text, "\nTgid:"), *aff = strstr(text, "\nCpus_allowed_list:");
        struct idset set;
        char buf[4096];
        long v;
        char *end;
        size_t n;

        if (!tgid || !aff)
                return -EBADMSG;
        v = strtol(tgid + 6, &end, 10);
        if (end == tgid + 6 || v <= 0 || (*end != '\n' && *end))
                return -EBADMSG;
        aff += strlen("\nCpus_allowed_list:");
        aff += strspn(aff, " \t");
        n = strcspn(aff, "\n");
        if (n >= sizeof(buf))
                return -EBADMSG;
        memcpy(buf, aff, n);
        buf[n] = '\0';
        if (idset_parse(buf, &set) < 0)
                return -EBADMSG;
        if (ret_tgid)
                *ret_tgid = (pid_t)v;
        if (ret_affinity)
                *ret_affinity = set;
        return 0;
}

int proc_task_placement_read(const char *procfs_root, pid_t pid, pid_t tid, struct task_placement *ret)
{
        _cleanup_free_ char *stat = NULL, *status = NULL, *schedstat = NULL;
        struct task_placement t = {};
        char path[96];
        int r;

        procfs_root = procfs_root ?: "/proc";
        snprintf(path, sizeof(path), "/%d/task/%d/stat", (int)pid, (int)tid);
        r = read_full_file_at(procfs_root, path, 1 << 16, &stat, NULL);
        if (r < 0)
                return r;
        r = proc_stat_parse(stat, &t.last_cpu, t.comm, sizeof(t.comm));
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "/%d/task/%d/status", (int)pid, (int)tid);
        r = read_full_file_at(procfs_root, path, 1 << 16, &status, NULL);
        if (r < 0)
                return r;
        r = proc_status_parse(status, NULL, &t.affinity);
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "/%d/task/%d/schedstat", (int)pid, (int)tid);
        if (read_full_file_at(procfs_root, path, 4096, &schedstat, NULL) >= 0) {
                unsigned long long ns, delay;
                int n = sscanf(schedstat, "%llu %llu", &ns, &delay);

                if (n >= 1)
                        t.runtime_ns = ns;
                if (n == 2)
                        t.wait_ns = delay;
        }
        *ret = t;
        return 0;
}

int proc_task_exists(const char *procfs_root, pid_t pid, pid_t tid)
{
        _cleanup_free_ char *path = NULL;
        char rel[64];
        struct stat st;
        int r;

        if (pid <= 0 || tid <= 0)
                return -ENOENT;
        snprintf(rel, sizeof(rel), "/%d/task/%d", (int)pid, (int)tid);
        r = path_join_root(procfs_root, rel, &path);
        if (r < 0)
                return r;
        if (lstat(path, &st) < 0)
                return negative_errno();
        return S_ISDIR(st.st_mode) ? 0 : -ENOENT;
}

int proc_tgid_of(const char *procfs_root, pid_t tid, pid_t *ret)
{
        _cleanup_free_ char *status = NULL;
        char path[64];
        int r;

        snprintf(path, sizeof(path), "/%d/status", (int)tid);
        r = read_full_file_at(procfs_root ?: "/proc", path, 1 << 16, &status, NULL);
        if (r < 0)
                return r;
        return proc_status_parse(status, ret, NULL);
}

static int cmp_pid(const void *a, const void *b)
{
        pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
        return (x > y) - (x < y);
}

int proc_task_list(const char *procfs_root, pid_t pid, pid_t **ret, size_t *ret_n)
{
        _cleanup_free_ char *dirpath = NULL;
        _cleanup_free_ pid_t *tids = NULL;
        char path[64];
        size_t n = 0, alloc = 0;
        DIR *d;
        struct dirent *de;
        int r;

        snprintf(path, sizeof(path), "/%d/task", (int)pid);
        r = path_join_root(procfs_root ?: "/proc", path, &dirpath);
        if (r < 0)
                return r;
        d = opendir(dirpath);
        if (!d)
                return negative_errno();
        while ((de = readdir(d))) {
                int tid;

                if (safe_atoi(de->d_name, &tid) < 0 || tid <= 0)
                        continue;
                if (n == alloc) {
                        pid_t *nt;

                        alloc = alloc ? alloc * 2 : 32;
                        nt = realloc(tids, alloc * sizeof(*nt));
                        if (!nt) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        tids = nt;
                }
                tids[n++] = tid;
        }
        closedir(d);
        if (n == 0)
                return -ENOENT;
        qsort(tids, n, sizeof(*tids), cmp_pid);
        *ret = TAKE_PTR(tids);
        *ret_n = n;
        return 0;
}
