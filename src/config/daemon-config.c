/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* INI parsing is inih's; this file only maps keys to fields and says exactly what is wrong. */
#include "vnuma/config/daemon-config.h"

#include <dirent.h>
#include <grp.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "vnuma/basic/log.h"
#include "vnuma/basic/parse-util.h"

struct load_ctx {
        struct daemon_config *c;
        const char *file;
        char *error; /* first problem, without the FILE:LINE prefix */
};

int parse_boolean(const char *v, bool *ret)
{
        static const char *const yes[] = {"1", "yes", "true", "on"}, *const no[] = {"0", "no", "false",
                                                                                    "off"};

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(v, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(v, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

int parse_duration_ms(const char *v, uint64_t *ret)
{
        static const struct {
                const char *suffix;
                uint64_t ms;
        } units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"sec", 1000}, {"min", 60000}, {"m", 60000}};
        unsigned long long n;
        char *end;

        if (!v || *v < '0' || *v > '9')
                return -EINVAL;
        errno = 0;
        n = strtoull(v, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        while (*end == ' ')
                end++;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (strcasecmp(end, units[i].suffix) == 0) {
                        if (n > UINT64_MAX / units[i].ms)
                                return -ERANGE;
                        *ret = n * units[i].ms;
                        return 0;
                }
        return -EINVAL;
}

int daemon_config_new(struct daemon_config **ret)
{
        struct daemon_config *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->period_ms = VNUMAD_DEFAULT_PERIOD_MS;
        c->query_timeout_ms = VNUMAD_DEFAULT_QUERY_TIMEOUT_MS;
        c->libvirt_enabled = true;
        c->socket_path = strdup(VNUMAD_SOCKET_PATH);
        c->sampler = strdup("auto");
        if (!c->socket_path || !c->sampler) {
                daemon_config_free(c);
                return -ENOMEM;
        }
        c->log_level = LOG_INFO;
        c->control_idle_timeout_ms = VNUMAD_CONTROL_IDLE_TIMEOUT_MS;
        c->control_max_clients = VNUMAD_CONTROL_MAX_CLIENTS;
        c->control_max_clients_user = VNUMAD_CONTROL_MAX_CLIENTS_USER;
        vm_policy_init(&c->default_policy);
        c->default_policy.migrate_rate = 256ull << 20;
        c->host_migrate_rate = 1ull << 30;
        c->imbalance_pct = 100;
        c->hysteresis_periods = 3;
        c->scan_window = 256ull << 20;
        *ret = c;
        return 0;
}

void daemon_config_free(struct daemon_config *c)
{
        if (!c)
                return;
        free(c->socket_path);
        free(c->read_group);
        for (unsigned i = 0; i < c->n_qmp_sockets; i++)
                free(c->qmp_sockets[i]);
        free(c->qmp_sockets);
        free(c->qmp_dir);
        free(c->libvirt_uri);
        free(c->sampler);
        free(c->metrics_textfile);
        for (unsigned i = 0; i < c->n_vms; i++)
                free(c->vms[i].name);
        free(c->vms);
        free(c);
}

_printf_(2, 3) static int bad(struct load_ctx *x, const char *fmt, ...)
{
        va_list ap;

        if (!x->error) {
                va_start(ap, fmt);
                if (vasprintf(&x->error, fmt, ap) < 0)
                        x->error = NULL;
                va_end(ap);
        }
        return 0; /* inih: stop and report this line */
}

static int set_string(char **field, const char *value)
{
        char *s = strdup(value);

        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

/* A group name (or number) to its gid, now: what the daemon checks peers against stays the
 * group that was meant when the file was read. */
static int resolve_group(const char *name, gid_t *ret)
{
        struct group g, *found = NULL;
        uint64_t u;
        int r;

        if (safe_atou64(name, &u) == 0 && u < (gid_t)-1) {
                *ret = (gid_t)u;
                return 0;
        }
        /* A group with many members needs a larger buffer than sysconf suggests. */
        for (size_t size = 4096; size <= (1u << 24); size *= 2) {
                _cleanup_free_ char *buf = malloc(size);
                if (!buf)
                        return -ENOMEM;
                r = getgrnam_r(name, &g, buf, size, &found);
                if (r == ERANGE)
                        continue;
                if (r != 0)
                        return -r;
                if (!found)
                        return -ENOENT;
                *ret = g.gr_gid;
                return 0;
        }
        return -ERANGE;
}

/* Keys shared by [policy] and [vm NAME]. Returns 1 if the key is not a policy key. */
static int policy_key(struct load_ctx *x, struct vm_policy *p, unsigned *set, const char *section,
                      const char *key, const char *value)
{
        int r;

        if (streq(key, "mode")) {
                r = vm_policy_mode_from_string(value);
                if (r < 0)
                        return bad(x,
                                   "[%s] mode: unknown mode \"%s\" (expected auto, strict, preferred, "
                                   "interleave, observe or off)",
                                   section, value),
                               -EINVAL;
                p->mode = r;
                *set |= POLICY_SET_MODE;
        } else if (streq(key, "nodes")) {
                if (idset_parse(value, &p->nodes) < 0)
                        return bad(x, "[%s] nodes: invalid node list \"%s\" (expected e.g. 0-1,3)", section,
                                   value),
                               -EINVAL;
                *set |= POLICY_SET_NODES;
        } else if (streq(key, "pin")) {
                r = vm_pin_mode_from_string(value);
                if (r < 0)
                        return bad(x, "[%s] pin: expected vcpus or none, got \"%s\"", section, value),
                               -EINVAL;
                p->pin = r;
                *set |= POLICY_SET_PIN;
        } else if (streq(key, "migrate-rate")) {
                if (parse_size(value, &p->migrate_rate) < 0)
                        return bad(x,
                                   "[%s] migrate-rate: invalid size \"%s\" (expected e.g. 256MiB, per "
                                   "second)",
                                   section, value),
                               -EINVAL;
                *set |= POLICY_SET_RATE;
        } else
                return 1;
        return 0;
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
        struct load_ctx *x = user;
        struct daemon_config *c = x->c;
        uint64_t u;
        int r;

        if (!key)
                return 1; /* a section header alone */
        if (streq(section, "daemon")) {
                if (streq(key, "period")) {
                        if (parse_duration_ms(value, &c->period_ms) < 0 || c->period_ms < 10 ||
                            c->period_ms > 3600000)
                                return bad(x, "[daemon] period: invalid duration \"%s\" (10ms to 1h)",
                                           value);
                } else if (streq(key, "dry-run")) {
                        if (parse_boolean(value, &c->dry_run) < 0)
                                return bad(x, "[daemon] dry-run: expected yes or no, got \"%s\"", value);
                } else if (streq(key, "socket")) {
                        if (value[0] != '/')
                                return bad(x, "[daemon] socket: \"%s\" is not an absolute path", value);
                        r = set_string(&c->socket_path, value);
                        if (r < 0)
                                return bad(x, "out of memory");
                } else if (streq(key, "read-group")) {
                        r = resolve_group(value, &c->read_gid);
                        if (r == -ENOENT)
                                return bad(x, "[daemon] read-group: unknown group \"%s\"", value);
                        if (r < 0)
                                return bad(x, "[daemon] read-group: cannot look up group \"%s\": %s", value,
                                           strerror(-r));
                        if (set_string(&c->read_group, value) < 0)
                                return bad(x, "out of memory");
                } else if (streq(key, "control-idle-timeout")) {
                        if (parse_duration_ms(value, &c->control_idle_timeout_ms) < 0 ||
                            c->control_idle_timeout_ms < 100 || c->control_idle_timeout_ms > 3600000)
                                return bad(x,
                                           "[daemon] control-idle-timeout: invalid duration \"%s\" (100ms "
                                           "to 1h)",
                                           value);
                } else if (streq(key, "control-max-clients")) {
                        if (safe_atou64(value, &u) < 0 || u < 2 || u > VNUMAD_CONTROL_CLIENTS_LIMIT)
                                return bad(x, "[daemon] control-max-clients: expected 2-%u, got \"%s\"",
                                           VNUMAD_CONTROL_CLIENTS_LIMIT, value);
                        c->control_max_clients = (unsigned)u;
                } else if (streq(key, "control-max-clients-per-user")) {
                        if (safe_atou64(value, &u) < 0 || u < 1 || u > VNUMAD_CONTROL_CLIENTS_LIMIT)
                                return bad(x,
                                           "[daemon] control-max-clients-per-user: expected 1-%u, got "
                                           "\"%s\"",
                                           VNUMAD_CONTROL_CLIENTS_LIMIT, value);
                        c->control_max_clients_user = (unsigned)u;
                } else if (streq(key, "log-level")) {
                        int level = log_level_from_string(value);
                        if (level < 0)
                                return bad(x,
                                           "[daemon] log-level: unknown level \"%s\" (err, warning, notice, "
                                           "info or debug)",
                                           value);
                        c->log_level = level;
                } else
                        return bad(x, "unknown key \"%s\" in [daemon]", key);
        } else if (streq(section, "qmp")) {
                if (streq(key, "socket")) {
                        char **n;
                        if (value[0] != '/')
                                return bad(x, "[qmp] socket: \"%s\" is not an absolute path", value);
                        n = realloc(c->qmp_sockets, (c->n_qmp_sockets + 1) * sizeof(*n));
                        if (!n)
                                return bad(x, "out of memory");
                        c->qmp_sockets = n;
                        n[c->n_qmp_sockets] = strdup(value);
                        if (!n[c->n_qmp_sockets])
                                return bad(x, "out of memory");
                        c->n_qmp_sockets++;
                } else if (streq(key, "directory")) {
                        if (value[0] != '/')
                                return bad(x, "[qmp] directory: \"%s\" is not an absolute path", value);
                        if (set_string(&c->qmp_dir, value) < 0)
                                return bad(x, "out of memory");
                } else if (streq(key, "query-timeout")) {
                        if (parse_duration_ms(value, &c->query_timeout_ms) < 0 ||
                            c->query_timeout_ms < 100 || c->query_timeout_ms > 300000)
                                return bad(x, "[qmp] query-timeout: invalid duration \"%s\" (100ms to 5min)",
                                           value);
                } else
                        return bad(x, "unknown key \"%s\" in [qmp]", key);
        } else if (streq(section, "libvirt")) {
                if (streq(key, "enabled")) {
                        if (parse_boolean(value, &c->libvirt_enabled) < 0)
                                return bad(x, "[libvirt] enabled: expected yes or no, got \"%s\"", value);
                } else if (streq(key, "uri")) {
                        /* libvirt URIs always have a scheme: "qemu:///system", "qemu+ssh://h/system". */
                        if (!strstr(value, ":/"))
                                return bad(
                                        x,
                                        "[libvirt] uri: \"%s\" is not a libvirt URI (e.g. qemu:///system)",
                                        value);
                        if (set_string(&c->libvirt_uri, value) < 0)
                                return bad(x, "out of memory");
                } else
                        return bad(x, "unknown key \"%s\" in [libvirt]", key);
        } else if (streq(section, "metrics")) {
                if (streq(key, "textfile")) {
                        size_t len = strlen(value);
                        /* Empty: off again (a drop-in can undo the main file). */
                        if (len == 0) {
                                free(c->metrics_textfile);
                                c->metrics_textfile = NULL;
                        } else if (value[0] != '/' || len < 7 || !streq(value + len - 5, ".prom") ||
                                   value[len - 6] == '/')
                                return bad(x,
                                           "[metrics] textfile: \"%s\" is not an absolute path to a *.prom "
                                           "file (node_exporter's textfile collector reads only those)",
                                           value);
                        else if (set_string(&c->metrics_textfile, value) < 0)
                                return bad(x, "out of memory");
                } else
                        return bad(x, "unknown key \"%s\" in [metrics]", key);
        } else if (streq(section, "policy")) {
                unsigned ignored = 0;
                r = policy_key(x, &c->default_policy, &ignored, section, key, value);
                if (r <= 0)
                        return r == 0 ? 1 : 0;
                if (streq(key, "host-migrate-rate")) {
                        if (parse_size(value, &c->host_migrate_rate) < 0)
                                return bad(x, "[policy] host-migrate-rate: invalid size \"%s\"", value);
                } else if (streq(key, "imbalance-pct")) {
                        if (safe_atou64(value, &u) < 0 || u < 100 || u > 400)
                                return bad(x, "[policy] imbalance-pct: expected 100-400, got \"%s\"", value);
                        c->imbalance_pct = (unsigned)u;
                } else if (streq(key, "hysteresis-periods")) {
                        if (safe_atou64(value, &u) < 0 || u > 1000)
                                return bad(x, "[policy] hysteresis-periods: expected 0-1000, got \"%s\"",
                                           value);
                        c->hysteresis_periods = (unsigned)u;
                } else if (streq(key, "sampler")) {
                        if (!streq(value, "auto") && !streq(value, "residency") &&
                            !streq(value, "hinting") && !streq(value, "soft-dirty") &&
                            !streq(value, "damon"))
                                return bad(x,
                                           "[policy] sampler: expected auto, residency, hinting, soft-dirty "
                                           "or damon, got \"%s\"",
                                           value);
                        if (set_string(&c->sampler, value) < 0)
                                return bad(x, "out of memory");
                } else if (streq(key, "scan-window")) {
                        /* At least one chunk of the sampler's map (2 MiB): less would fail at start. */
                        if (parse_size(value, &c->scan_window) < 0 || c->scan_window < (2u << 20))
                                return bad(x, "[policy] scan-window: invalid size \"%s\" (at least 2MiB)",
                                           value);
                } else
                        return bad(x, "unknown key \"%s\" in [policy]", key);
        } else if (streq(section, "vm") || startswith(section, "vm ")) {
                const char *name = section + 2;
                struct vm_config *vm = NULL;

                while (*name == ' ')
                        name++;
                if (!*name)
                        return bad(x, "[vm] section needs a VM name, as in [vm web1]");
                for (unsigned i = 0; i < c->n_vms; i++)
                        if (streq(c->vms[i].name, name))
                                vm = &c->vms[i];
                if (!vm) {
                        struct vm_config *n = realloc(c->vms, (c->n_vms + 1) * sizeof(*n));
                        if (!n)
                                return bad(x, "out of memory");
                        c->vms = n;
                        vm = &c->vms[c->n_vms];
                        vm->name = strdup(name);
                        if (!vm->name)
                                return bad(x, "out of memory");
                        vm_policy_init(&vm->policy);
                        vm->set = 0;
                        c->n_vms++;
                }
                r = policy_key(x, &vm->policy, &vm->set, section, key, value);
                if (r < 0)
                        return 0;
                if (r > 0)
                        return bad(x, "unknown key \"%s\" in [%s]", key, section);
        } else
                return bad(x, "unknown section [%s]", section);
        return 1;
}

static int load_file(struct load_ctx *x, const char *file, char **ret_error)
{
        FILE *f = fopen(file, "re");
        int line;

        if (!f)
                return negative_errno();
        x->file = file;
        line = ini_parse_file(f, handler, x);
        fclose(f);
        if (line == 0)
                return 0;
        if (line < 0) {
                if (asprintf(ret_error, "%s: cannot read the file", file) < 0)
                        *ret_error = NULL;
                return -EIO;
        }
        if (asprintf(ret_error, "%s:%d: %s", file, line,
                     x->error ?: "syntax error (expected [section] or key = value)") < 0)
                *ret_error = NULL;
        return -EINVAL;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int daemon_config_load(const char *path, const char *dropin_dir, struct daemon_config **ret,
                       char **ret_error)
{
        _cleanup_(daemon_config_freep) struct daemon_config *c = NULL;
        _cleanup_free_ char *dir = NULL;
        struct load_ctx x = {};
        const char *main_file = path ?: VNUMAD_CONFIG_FILE;
        int r;

        *ret_error = NULL;
        r = daemon_config_new(&c);
        if (r < 0)
                return r;
        x.c = c;

        r = load_file(&x, main_file, ret_error);
        free(TAKE_PTR(x.error));
        if (r == -ENOENT && !path)
                r = 0; /* no config file at the default place: defaults */
        else if (r == -ENOENT || r == -EACCES) {
                if (asprintf(ret_error, "%s: %s", main_file, strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        if (r < 0)
                return r;

        if (!dropin_dir) {
                const char *slash = strrchr(main_file, '/');
                if (asprintf(&dir, "%.*s/conf.d", slash ? (int)(slash - main_file) : 1,
                             slash ? main_file : ".") < 0)
                        return -ENOMEM;
                dropin_dir = dir;
        }
        DIR *d = opendir(dropin_dir);
        if (d) {
                char **names = NULL;
                size_t n = 0;
                struct dirent *de;

                while ((de = readdir(d))) {
                        size_t len = strlen(de->d_name);
                        char **nn;
                        if (de->d_name[0] == '.' || len < 6 || !streq(de->d_name + len - 5, ".conf"))
                                continue;
                        nn = realloc(names, (n + 1) * sizeof(*nn));
                        if (!nn || asprintf(&nn[n], "%s/%s", dropin_dir, de->d_name) < 0) {
                                names = nn ?: names;
                                r = -ENOMEM;
                                break;
                        }
                        names = nn;
                        n++;
                }
                closedir(d);
                if (r >= 0 && n > 0) {
                        qsort(names, n, sizeof(*names), cmp_str);
                        for (size_t i = 0; i < n && r >= 0; i++) {
                                r = load_file(&x, names[i], ret_error);
                                free(TAKE_PTR(x.error));
                        }
                }
                for (size_t i = 0; i < n; i++)
                        free(names[i]);
                free(names);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

void daemon_config_policy_for(const struct daemon_config *c, const char *vm_name, struct vm_policy *ret)
{
        *ret = c->default_policy;
        for (unsigned i = 0; vm_name && i < c->n_vms; i++) {
                const struct vm_config *vm = &c->vms[i];

                if (!streq(vm->name, vm_name))
                        continue;
                /* Only the keys the [vm] section set; the rest follows [policy], wherever it is. */
                if (vm->set & POLICY_SET_MODE)
                        ret->mode = vm->policy.mode;
                if (vm->set & POLICY_SET_NODES)
                        ret->nodes = vm->policy.nodes;
                if (vm->set & POLICY_SET_PIN)
                        ret->pin = vm->policy.pin;
                if (vm->set & POLICY_SET_RATE)
                        ret->migrate_rate = vm->policy.migrate_rate;
        }
}
