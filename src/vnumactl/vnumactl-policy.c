/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumactl policy get|set|clear: a libvirt domain's <vnumad:policy> metadata, read and written
 * straight through libvirt (so it works with vnumad stopped and on shut-off domains); vnumad
 * picks a change up from libvirt's metadata-change event. A VM that is not a libvirt domain is
 * asked of the daemon (its policy comes from vnumad.conf). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnuma/basic/json-util.h"
#include "vnuma/basic/log.h"
#include "vnuma/host/topology.h"
#include "vnuma/libvirt/libvirt-conn.h"
#include "vnuma/libvirt/libvirt-error.h"
#include "vnuma/libvirt/libvirt-policy.h"
#include "vnuma/report/show.h"
#include "vnumactl-policy.h"
#include "vnumactl-print.h"

static void virConnectClosep(virConnectPtr *c)
{
        if (*c)
                virConnectClose(*c);
}

static void virDomainFreep(virDomainPtr *d)
{
        if (*d)
                virDomainFree(*d);
}

static unsigned affect_flags(const struct policy_opts *o)
{
        return o->config ? VIR_DOMAIN_AFFECT_CONFIG
               : o->live ? VIR_DOMAIN_AFFECT_LIVE
                         : VIR_DOMAIN_AFFECT_CURRENT;
}

static const char *uri_of(const struct policy_opts *o)
{
        return o->uri ?: getenv("LIBVIRT_DEFAULT_URI") ?: LIBVIRT_URI_DEFAULT;
}

static int open_libvirt(const struct policy_opts *o, bool read_only, bool quiet, virConnectPtr *ret)
{
        _cleanup_free_ char *error = NULL;
        virConnectPtr c;

        libvirt_quiet_errors();
        c = read_only ? virConnectOpenReadOnly(uri_of(o)) : virConnectOpen(uri_of(o));
        if (!c) {
                int r = libvirt_last_error(&error);
                if (quiet)
                        log_debug("Cannot connect to libvirt at %s: %s", uri_of(o), strna(error));
                else
                        log_error("Cannot connect to libvirt at %s: %s", uri_of(o), strna(error));
                return r;
        }
        libvirt_quiet_conn_errors(c);
        *ret = c;
        return 0;
}

/* What the metadata is checked against: the nodes of this host. */
static int host_limits(const struct policy_opts *o, struct idset *nodes, struct vm_metadata_limits *ret)
{
        _cleanup_(host_topology_freep) struct host_topology *t = NULL;
        int r = host_topology_read(o->sysfs_root, &t);

        if (r < 0)
                return log_error_errno(r, "Cannot read the host NUMA topology: %m");
        *nodes = IDSET_EMPTY;
        for (unsigned i = 0; i < t->n_nodes; i++)
                idset_add(nodes, t->nodes[i].id);
        *ret = (struct vm_metadata_limits){.host_nodes = nodes, .guest_cells = -1};
        return 0;
}

/* Writes value into f as an XML attribute value, escaped. */
static void put_escaped(FILE *f, const char *value)
{
        for (const char *p = value; *p; p++)
                switch (*p) {
                case '&':
                        fputs("&amp;", f);
                        break;
                case '<':
                        fputs("&lt;", f);
                        break;
                case '"':
                        fputs("&quot;", f);
                        break;
                default:
                        fputc(*p, f);
                }
}

/* "mode=strict nodes=0-1 cell=1:1" -> the metadata element, checked by the same parser the daemon
 * uses, so a value vnumad would refuse is refused here, before anything is written. -EINVAL for
 * an argument that is not KEY=VALUE of a known key (a usage error), -EBADMSG for a value vnumad
 * would refuse (an invalid policy); both logged. */
static int policy_from_args(char **args, int n_args, const struct vm_metadata_limits *limits,
                            struct vm_policy *ret)
{
        static const char *const keys[] = {"mode", "nodes", "pin", "migrate-rate"};
        _cleanup_free_ char *xml = NULL, *error = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&xml, &len);
        int r;

        if (!f)
                return log_error_errno(-ENOMEM, "Out of memory.");
        fputs("<policy", f);
        for (int i = 0; i < n_args; i++) {
                const char *eq = strchr(args[i], '='), *key = args[i];
                bool known = false;

                if (!eq || eq == key) {
                        fclose(f);
                        log_error("Invalid argument \"%s\": expected KEY=VALUE (mode, nodes, pin, "
                                  "migrate-rate, "
                                  "cell=ID:NODES).",
                                  args[i]);
                        return -EINVAL;
                }
                for (size_t k = 0; k < ELEMENTSOF(keys); k++)
                        if ((size_t)(eq - key) == strlen(keys[k]) &&
                            strncmp(key, keys[k], strlen(keys[k])) == 0)
                                known = true;
                if (strncmp(key, "cell=", 5) == 0)
                        continue;
                if (!known) {
                        fclose(f);
                        log_error("Unknown key \"%.*s\" in \"%s\" (mode, nodes, pin, migrate-rate, cell).",
                                  (int)(eq - key), key, args[i]);
                        return -EINVAL;
                }
                fprintf(f, " %.*s=\"", (int)(eq - key), key);
                put_escaped(f, eq + 1);
                fputc('"', f);
        }
        fputc('>', f);
        for (int i = 0; i < n_args; i++) {
                const char *v, *colon;

                if (strncmp(args[i], "cell=", 5) != 0)
                        continue;
                v = args[i] + 5;
                colon = strchr(v, ':');
                if (!colon || colon == v) {
                        fclose(f);
                        log_error("Invalid \"%s\": expected cell=ID:NODES, as in cell=1:1.", args[i]);
                        return -EINVAL;
                }
                fputs("<cell id=\"", f);
                fprintf(f, "%.*s", (int)(colon - v), v);
                fputs("\" nodes=\"", f);
                put_escaped(f, colon + 1);
                fputs("\"/>", f);
        }
        fputs("</policy>", f);
        if (fclose(f) != 0)
                return log_error_errno(-ENOMEM, "Out of memory.");
        r = vm_metadata_parse(xml, limits, ret, &error);
        if (r < 0) {
                log_error("Invalid policy: %s", error ?: strerror(-r));
                return r == -EINVAL ? -EBADMSG : r;
        }
        return 0;
}

/* Where a change goes, as the document says it: libvirt's "current" is the running domain if
 * it runs, else the persistent one. */
static const char *scope_of(const struct policy_opts *o)
{
        return o->config ? "config" : o->live ? "live" : "current";
}

/* A libvirt error is the daemon's or libvirt's refusal, not a usage error: exit status 1. */
static int not_usage(int r)
{
        return r == -EINVAL ? -EBADMSG : r;
}

static int policy_get(const struct policy_opts *o, virConnectPtr conn, const char *name)
{
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_free_ char *error = NULL, *xml = NULL, *xml_error = NULL;
        _cleanup_json_ struct json_object *out = show_json_document();
        struct vm_metadata_limits limits;
        enum libvirt_policy_source source;
        struct vm_policy p, raw;
        struct idset nodes;
        int r, cells;

        if (!out)
                return log_error_errno(-ENOMEM, "Out of memory.");
        r = host_limits(o, &nodes, &limits);
        if (r < 0)
                return r;
        r = libvirt_domain_lookup(conn, name, &dom);
        if (r < 0)
                return r == -ENOENT ? r : not_usage(r); /* ENOENT: the caller asks the daemon */
        if (libvirt_domain_guest_cells(dom, affect_flags(o), &cells) >= 0)
                limits.guest_cells = MAX(cells, 1);
        r = libvirt_policy_resolve(dom, &limits, &p, &source, &error);
        if (r < 0 && r != -EINVAL)
                return log_error_errno(not_usage(r), "Domain %s: cannot read its policy: %s", name,
                                       error ?: strerror(-r));
        (void)libvirt_policy_get_dom(dom, affect_flags(o), &limits, &raw, &xml, &xml_error);

        /* The daemon's policy-get reply has this shape too (daemon-commands.c). */
        json_object_object_add(out, "name", json_object_new_string(name));
        json_object_object_add(
                out, "source",
                json_object_new_string(r == -EINVAL ? "metadata" : libvirt_policy_source_to_string(source)));
        json_object_object_add(out, "xml", xml ? json_object_new_string(xml) : NULL);
        json_object_object_add(out, "policy", r < 0 ? NULL : show_json_policy(&p));
        json_object_object_add(out, "error", r == -EINVAL ? json_object_new_string(strna(error)) : NULL);
        if (o->json)
                print_doc(out);
        else
                print_policy_get(out);
        return 0;
}

static int policy_set(const struct policy_opts *o, virConnectPtr conn, const char *name, char **args,
                      int n_args)
{
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_free_ char *error = NULL, *xml = NULL;
        int cells;
        struct vm_metadata_limits limits;
        struct vm_policy p;
        struct idset nodes;
        int r;

        if (n_args == 0) {
                log_error("policy set %s: nothing to set; give at least mode=MODE.", name);
                return -EINVAL;
        }
        r = host_limits(o, &nodes, &limits);
        if (r < 0)
                return r;
        r = libvirt_domain_lookup(conn, name, &dom);
        if (r < 0)
                return not_usage(r);
        /* A domain without <numa> cells is one cell to vnumad (QEMU's implicit node 0). */
        if (libvirt_domain_guest_cells(dom, affect_flags(o), &cells) >= 0)
                limits.guest_cells = MAX(cells, 1);
        r = policy_from_args(args, n_args, &limits, &p);
        if (r < 0)
                return r;
        r = libvirt_policy_set(conn, name, &p, affect_flags(o), &error);
        if (r < 0)
                return log_error_errno(not_usage(r), "Domain %s: cannot write the policy: %s", name,
                                       error ?: strerror(-r));
        if (vm_metadata_format(&p, &xml) < 0)
                xml = NULL;
        if (o->json) {
                _cleanup_json_ struct json_object *out = show_json_document();

                if (!out)
                        return log_error_errno(-ENOMEM, "Out of memory.");
                json_object_object_add(out, "name", json_object_new_string(name));
                json_object_object_add(out, "scope", json_object_new_string(scope_of(o)));
                json_object_object_add(out, "xml", xml ? json_object_new_string(xml) : NULL);
                json_object_object_add(out, "policy", show_json_policy(&p));
                print_doc(out);
        } else if (xml)
                printf("Policy of %s set%s: %s\n", name,
                       o->config ? " (persistent config)"
                       : o->live ? " (running domain)"
                                 : "",
                       xml);
        return 0;
}

static int policy_clear(const struct policy_opts *o, virConnectPtr conn, const char *name)
{
        _cleanup_free_ char *error = NULL;
        int r = libvirt_policy_clear(conn, name, affect_flags(o), &error);

        if (r < 0 && r != -ENOENT)
                return log_error_errno(not_usage(r), "Domain %s: cannot remove the policy: %s", name,
                                       error ?: strerror(-r));
        if (r < 0)
                return r;
        if (o->json) {
                _cleanup_json_ struct json_object *out = show_json_document();

                if (!out)
                        return log_error_errno(-ENOMEM, "Out of memory.");
                json_object_object_add(out, "name", json_object_new_string(name));
                json_object_object_add(out, "scope", json_object_new_string(scope_of(o)));
                print_doc(out);
        } else
                printf("Policy of %s removed; vnumad's configured default applies.\n", name);
        return 0;
}

int policy_verb(const struct policy_opts *o, char **args, int n_args, bool *ret_not_libvirt)
{
        _cleanup_(virConnectClosep) virConnectPtr conn = NULL;
        const char *sub = n_args > 0 ? args[0] : NULL;
        int r;

        *ret_not_libvirt = false;
        if (!sub || n_args < 2 || (!streq(sub, "get") && !streq(sub, "set") && !streq(sub, "clear"))) {
                log_error(
                        "Usage: vnumactl policy get|set|clear VM [mode=MODE] [nodes=LIST] [pin=vcpus|none] "
                        "[migrate-rate=SIZE] [cell=ID:NODES]... [--config|--live]");
                return -EINVAL;
        }
        if (o->config && o->live) {
                log_error("--config and --live exclude each other.");
                return -EINVAL;
        }
        if (!streq(sub, "set") && n_args > 2) {
                log_error("policy %s: unexpected argument \"%s\".", sub, args[2]);
                return -EINVAL;
        }
        /* get: a VM that is not a libvirt domain (or no libvirt at all) is asked of the daemon. */
        r = open_libvirt(o, streq(sub, "get"), streq(sub, "get"), &conn);
        if (r < 0) {
                *ret_not_libvirt = streq(sub, "get");
                return not_usage(r);
        }
        if (streq(sub, "get")) {
                r = policy_get(o, conn, args[1]);
                if (r == -ENOENT)
                        *ret_not_libvirt = true;
                return r;
        }
        if (streq(sub, "set"))
                r = policy_set(o, conn, args[1], args + 2, n_args - 2);
        else
                r = policy_clear(o, conn, args[1]);
        if (r == -ENOENT)
                log_error("No libvirt domain named \"%s\" at %s (a VM managed through QMP takes its policy "
                          "from vnumad.conf).",
                          args[1], uri_of(o));
        return r;
}
