/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vm-identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "vnuma/basic/error-message.h"
#include "vnuma/basic/fileio.h"
#include "vnuma/basic/idset.h"
#include "vnuma/basic/json-util.h"
#include "vnuma/basic/string-sanitize.h"
#include "vnuma/host/proc-task.h"
#include "vnuma/qmp/qmp.h"

int vm_identity_from_socket(const char *path, char **ret)
{
        const char *base = strrchr(path, '/');
        size_t n;

        base = base ? base + 1 : path;
        n = strlen(base);
        if (n > 5 && streq(base + n - 5, ".sock"))
                n -= 5;
        else if (n > 4 && streq(base + n - 4, ".qmp"))
                n -= 4;
        if (n == 0)
                return -EINVAL;
        return string_sanitize(base, MIN(n, (size_t)VM_IDENTITY_MAX), ret);
}

int vm_identity_from_domain(const char *name, char **ret)
{
        if (!name || !*name)
                return -EINVAL;
        return string_sanitize(name, VM_IDENTITY_MAX, ret);
}

/* The command name of pid, for the message; "?" if it cannot be read. */
static void comm_of(const char *procfs_root, pid_t pid, char *buf, size_t size)
{
        _cleanup_free_ char *comm = NULL;
        char path[64];

        snprintf(path, sizeof(path), "/%d/comm", (int)pid);
        if (read_one_line_at(procfs_root, path, &comm) < 0)
                snprintf(buf, size, "?");
        else
                snprintf(buf, size, "%s", comm);
}

int vm_identity_check_threads(struct qmp_client *qmp, const char *procfs_root, pid_t pid, char **ret_error)
{
        _cleanup_json_ struct json_object *ret = NULL;
        char comm[32];
        size_t n;
        int r;

        if (ret_error)
                *ret_error = NULL;
        r = qmp_client_execute(qmp, "query-cpus-fast", NULL, &ret);
        if (r < 0)
                return error_message(ret_error, r, "%s", qmp_client_error_message(qmp));
        if (!json_object_is_type(ret, json_type_array) || json_object_array_length(ret) == 0)
                return error_message(ret_error, -EBADMSG, "query-cpus-fast: reply is not a list of vCPUs");
        n = json_object_array_length(ret);
        /* The guest query's cap on vCPUs (an idset), checked before a /proc lookup per element. */
        if (n > IDSET_MAX)
                return error_message(ret_error, -E2BIG,
                                     "query-cpus-fast: %zu elements, more than the %d vnumad accepts", n,
                                     IDSET_MAX);
        for (size_t i = 0; i < n; i++) {
                int64_t tid;

                if (json_member_int64(json_object_array_get_idx(ret, i), "thread-id", &tid) < 0 ||
                    tid <= 0 || tid > INT32_MAX)
                        return error_message(ret_error, -EBADMSG,
                                             "query-cpus-fast: element %zu: missing or bad \"thread-id\"",
                                             i);
                r = proc_task_exists(procfs_root, pid, (pid_t)tid);
                if (r == -ENOENT) {
                        comm_of(procfs_root, pid, comm, sizeof(comm));
                        return error_message(
                                ret_error, -EPERM,
                                "vCPU thread %lld named by QEMU is not a thread of pid %d (%s), the "
                                "process that serves it",
                                (long long)tid, (int)pid, comm);
                }
                if (r < 0)
                        return error_message(ret_error, r, "/proc/%d/task/%lld: %s", (int)pid,
                                             (long long)tid, strerror(-r));
        }
        return 0;
}
