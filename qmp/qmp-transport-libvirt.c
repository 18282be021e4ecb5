/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* QMP command-level transport over virDomainQemuMonitorCommand, with a read-only allow-list. */

#include <fcntl.h>
#include <json-c/json.h>
#include <libvirt/libvirt-qemu.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vnuma/basic/error-message.h"
#include "vnuma/basic/fileio.h"
#include "vnuma/basic/json-util.h"
#include "vnuma/basic/log.h"
#include "vnuma/basic/macro.h"
#include "vnuma/libvirt/libvirt-error.h"
#include "vnuma/qmp/libvirt-qmp.h"
#include "vnuma/qmp/qmp.h"

#define refuse(ret_reason, ...) error_message(ret_reason, -EPERM, __VA_ARGS__)

/* HMP commands that only read: "info <anything>" and "gpa2hva ADDR". */
static bool hmp_read_only(const char *line)
{
        while (*line == ' ' || *line == '\t')
                line++;
        return (startswith(line, "info ") || startswith(line, "gpa2hva ")) && !strpbrk(line, ";\n\r");
}

int libvirt_qmp_command_allowed(const char *command_json, char **ret_reason)
{
        _cleanup_json_ struct json_object *cmd = NULL;
        struct json_object *execute, *args, *line;
        const char *name;
        int r;

        if (!command_json)
                return -EINVAL;
        cmd = json_tokener_parse(command_json);
        if (!cmd || !json_object_is_type(cmd, json_type_object) ||
            !json_object_object_get_ex(cmd, "execute", &execute) ||
            !json_object_is_type(execute, json_type_string)) {
                r = refuse(ret_reason, "not a QMP command object");
                return r == -EPERM ? -EINVAL : r;
        }
        name = json_object_get_string(execute);
        if (json_object_object_get_ex(cmd, "id", NULL)) {
                (void)refuse(ret_reason, "%s: carries an \"id\" (libvirt adds its own)", name);
                return -EINVAL;
        }
        if (json_object_object_get_ex(cmd, "exec-oob", NULL))
                return refuse(ret_reason, "%s: out-of-band execution is not allowed", name);

        if (startswith(name, "query-") || streq(name, "qom-list") || streq(name, "qom-get"))
                return 0;
        if (streq(name, "human-monitor-command")) {
                if (!json_object_object_get_ex(cmd, "arguments", &args) ||
                    !json_object_object_get_ex(args, "command-line", &line) ||
                    !json_object_is_type(line, json_type_string))
                        return refuse(ret_reason, "human-monitor-command: no command-line");
                if (!hmp_read_only(json_object_get_string(line)))
                        return refuse(ret_reason,
                                      "human-monitor-command \"%s\": not a read-only HMP command",
                                      json_object_get_string(line));
                return 0;
        }
        return refuse(ret_reason,
                      "%s: not a read-only query; only query-*, qom-list, qom-get and HMP info/gpa2hva "
                      "go through libvirt",
                      name);
}

static int transport_command(void *userdata, const char *command_json, int timeout_ms, char **ret_reply_json)
{
        virDomainPtr dom = userdata;
        _cleanup_free_ char *reason = NULL, *message = NULL;
        char *reply = NULL;
        int r;

        r = libvirt_qmp_command_allowed(command_json, &reason);
        if (r < 0) {
                log_debug("QMP via libvirt: refused: %s", strna(reason));
                return r;
        }
        if (virDomainQemuMonitorCommand(dom, command_json, &reply, 0) < 0) {
                r = libvirt_last_error(&message);
                log_debug("QMP via libvirt: %s: %s", virDomainGetName(dom) ?: "?", strna(message));
                return r;
        }
        if (!reply)
                return -EBADMSG;
        *ret_reply_json = reply;
        return 0;
}

static void transport_close(void *userdata)
{
        if (userdata)
                virDomainFree(userdata);
}

static const struct qmp_transport_ops libvirt_transport_ops = {
        .name = "libvirt",
        .command = transport_command,
        .close = transport_close,
};

int libvirt_qmp_open(virDomainPtr dom, struct qmp_client **ret)
{
        struct qmp_client *c = NULL;
        int r;

        if (!dom || !ret)
                return -EINVAL;
        if (virDomainRef(dom) < 0)
                return libvirt_last_error(NULL);
        r = qmp_client_new(&libvirt_transport_ops, dom, QMP_DEFAULT_TIMEOUT_MS, &c);
        if (r < 0)
                return r; /* qmp_client_new closes the transport (drops the reference) on failure */
        *ret = c;
        return 0;
}

int libvirt_qmp_domain_pid(virDomainPtr dom, const char *run_dir, pid_t *ret, char **ret_error)
{
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_close_ int fd = -1;
        const char *name = dom ? virDomainGetName(dom) : NULL;
        struct stat st;
        char rel[512];
        ssize_t n;
        long long pid;
        int r;

        if (ret_error)
                *ret_error = NULL;
        if (!name || !*name || strchr(name, '/') || name[0] == '.')
                return error_message(ret_error, -EINVAL, "domain name unusable as a pid file name");
        if ((size_t)snprintf(rel, sizeof(rel), "/%s.pid", name) >= sizeof(rel))
                return -ENAMETOOLONG;
        r = path_join_root(run_dir ?: LIBVIRT_QEMU_RUN_DIR, rel, &path);
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return error_message(ret_error, negative_errno(), "%s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0)
                return error_message(ret_error, negative_errno(), "%s: %s", path, strerror(errno));
        if (!S_ISREG(st.st_mode) || st.st_uid != 0)
                return error_message(ret_error, -EPERM, "%s: not a regular file owned by root", path);
        line = calloc(1, 32);
        if (!line)
                return -ENOMEM;
        n = read(fd, line, 31);
        if (n < 0)
                return error_message(ret_error, negative_errno(), "%s: %s", path, strerror(errno));
        if (sscanf(line, "%lld", &pid) != 1 || pid <= 0 || pid > INT32_MAX)
                return error_message(ret_error, -EBADMSG, "%s: no pid in it", path);
        *ret = (pid_t)pid;
        return 0;
}
