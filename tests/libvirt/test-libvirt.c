/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumad's libvirt glue against a real libvirtd with small TCG domains (suite 'libvirt').
 *
 * Needs root, libvirtd, virtlogd and qemu-system-x86_64; starts the daemons itself when they are
 * not running and skips (77) when it cannot. Every domain it defines is named vnumad-test-PID-*
 * and is destroyed and undefined again, also after a failed assertion (atexit). */
#include <check.h>
#include <json-c/json.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include <libvirt/libvirt.h>

#include "vnuma/fileio.h"
#include "vnuma/guest-query.h"
#include "vnuma/libvirt-actuator.h"
#include "vnuma/libvirt-conn.h"
#include "vnuma/libvirt-error.h"
#include "vnuma/libvirt-policy.h"
#include "vnuma/libvirt-qmp.h"
#include "vnuma/macro.h"
#include "vnuma/parse-util.h"
#include "vnuma/qmp.h"
#include "vnuma/vm-metadata.h"

#define URI        "qemu:///system"
#define EXIT_SKIP  77
#define MAX_EVENTS 256

/* ---- helpers: services, domains, the event loop ---- */

static int run(const char *cmd)
{
        int r = system(cmd);

        return r == -1 ? -1 : WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool libvirtd_answers(void)
{
        return run("virsh -q -c " URI " version >/dev/null 2>&1") == 0;
}

static bool wait_libvirtd(double seconds)
{
        for (double end = now_s() + seconds; now_s() < end; usleep(200 * 1000))
                if (libvirtd_answers())
                        return true;
        return false;
}

/* Starts virtlogd and libvirtd (daemonized, no systemd) unless libvirtd already answers. */
static bool ensure_libvirtd(void)
{
        if (libvirtd_answers())
                return true;
        (void)run("pgrep -x virtlogd >/dev/null || virtlogd -d");
        (void)run("libvirtd -d");
        return wait_libvirtd(20);
}

static void wake_timer(int timer, void *opaque)
{
}

static void loop_until(bool (*done)(void *), void *arg, double seconds)
{
        for (double end = now_s() + seconds; !done(arg) && now_s() < end;)
                virEventRunDefaultImpl();
}

static char test_prefix[64];
/* Whether this libvirtd delivers domain events at all (probed once in main). */
static bool events_delivered;
static unsigned domain_counter;

static void cleanup_domains(void)
{
        char cmd[512];

        /* Only ours: the prefix carries this process's pid. */
        snprintf(cmd, sizeof(cmd),
                 "for d in $(virsh -q -c " URI " list --all --name | grep '^%s'); do "
                 "virsh -q -c " URI " destroy $d >/dev/null 2>&1; "
                 "virsh -q -c " URI " undefine $d >/dev/null 2>&1; done",
                 test_prefix);
        (void)run(cmd);
}

static char *domain_xml(const char *name, const char *extra)
{
        char *xml = NULL;

        if (asprintf(&xml,
                     "<domain type='qemu'><name>%s</name>"
                     "<memory unit='MiB'>128</memory><vcpu>2</vcpu>%s"
                     "<os><type arch='x86_64' machine='q35'>hvm</type></os>"
                     "<cpu><numa>"
                     "<cell id='0' cpus='0' memory='64' unit='MiB'/>"
                     "<cell id='1' cpus='1' memory='64' unit='MiB'/>"
                     "</numa></cpu>"
                     "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>"
                     "<video><model type='none'/></video>"
                     "<memballoon model='none'/></devices></domain>",
                     name, extra ?: "") < 0)
                abort();
        return xml;
}

static virConnectPtr connect_or_fail(void)
{
        virConnectPtr c = virConnectOpen(URI);

        ck_assert_msg(c, "cannot connect to %s", URI);
        return c;
}

/* Defines (and starts, if start) a fresh test domain; its name goes to name_out. */
static virDomainPtr new_domain(virConnectPtr conn, bool start, const char *extra, char *name_out,
                               size_t size)
{
        _cleanup_free_ char *xml = NULL, *err = NULL;
        virDomainPtr d;

        snprintf(name_out, size, "%s%u", test_prefix, domain_counter++);
        xml = domain_xml(name_out, extra);
        d = virDomainDefineXML(conn, xml);
        if (!d)
                (void)libvirt_last_error(&err);
        ck_assert_msg(d, "define %s: %s", name_out, strna(err));
        if (start && virDomainCreate(d) < 0) {
                (void)libvirt_last_error(&err);
                ck_abort_msg("start %s: %s", name_out, strna(err));
        }
        return d;
}

static void drop_domain(virDomainPtr d)
{
        if (!d)
                return;
        (void)virDomainDestroy(d);
        (void)virDomainUndefineFlags(d, VIR_DOMAIN_UNDEFINE_KEEP_NVRAM);
        virResetLastError();
        virDomainFree(d);
}

/* ---- event recorder ---- */

struct event {
        char kind[16]; /* "up", "down", "changed", "connected", "disconnected" */
        int why;
        char name[128];
        char uuid[VIR_UUID_STRING_BUFLEN];
        pid_t pid;
        double at;
};

struct recorder {
        size_t n;
        struct event ev[MAX_EVENTS];
};

static void record(struct recorder *r, const char *kind, int why, const struct libvirt_domain_ref *d)
{
        struct event *e;

        if (r->n >= MAX_EVENTS)
                return;
        e = &r->ev[r->n++];
        snprintf(e->kind, sizeof(e->kind), "%s", kind);
        e->why = why;
        snprintf(e->name, sizeof(e->name), "%s", d ? d->name : "");
        snprintf(e->uuid, sizeof(e->uuid), "%s", d ? d->uuid : "");
        e->pid = d ? d->pid : 0;
        e->at = now_s();
}

static void cb_connection(struct libvirt_conn *c, bool connected, const char *reason, void *u)
{
        record(u, connected ? "connected" : "disconnected", 0, NULL);
}
static void cb_up(struct libvirt_conn *c, const struct libvirt_domain_ref *d, enum libvirt_up_reason why,
                  void *u)
{
        record(u, "up", why, d);
}
static void cb_down(struct libvirt_conn *c, const struct libvirt_domain_ref *d, enum libvirt_down_reason why,
                    void *u)
{
        record(u, "down", why, d);
}
static void cb_changed(struct libvirt_conn *c, const struct libvirt_domain_ref *d, enum libvirt_change what,
                       const char *detail, void *u)
{
        record(u, "changed", what, d);
}

static const struct libvirt_conn_callbacks recorder_callbacks = {
        .connection = cb_connection,
        .domain_up = cb_up,
        .domain_down = cb_down,
        .domain_changed = cb_changed,
};

static const struct event *find_event(const struct recorder *r, size_t from, const char *kind, int why,
                                      const char *name)
{
        for (size_t i = from; i < r->n; i++)
                if (streq(r->ev[i].kind, kind) && (why < 0 || r->ev[i].why == why) &&
                    (!name || streq(r->ev[i].name, name)))
                        return &r->ev[i];
        return NULL;
}

struct wait_for {
        const struct recorder *r;
        size_t from;
        const char *kind;
        int why;
        const char *name;
};

static bool wait_done(void *arg)
{
        const struct wait_for *w = arg;

        return find_event(w->r, w->from, w->kind, w->why, w->name) != NULL;
}

static const struct event *wait_event(const struct recorder *r, size_t from, const char *kind, int why,
                                      const char *name, double seconds)
{
        struct wait_for w = {r, from, kind, why, name};

        loop_until(wait_done, &w, seconds);
        return find_event(r, from, kind, why, name);
}

static struct libvirt_conn *start_conn(struct recorder *rec, unsigned reconnect_min_ms)
{
        struct libvirt_conn_config cfg;
        struct libvirt_conn *c = NULL;

        libvirt_conn_config_init(&cfg);
        cfg.uri = URI;
        cfg.reconnect_min_ms = reconnect_min_ms;
        cfg.reconnect_max_ms = 4 * reconnect_min_ms;
        ck_assert_int_eq(libvirt_conn_new(&cfg, &recorder_callbacks, rec, &c), 0);
        ck_assert_int_eq(libvirt_conn_start(c), 0);
        ck_assert(libvirt_conn_is_connected(c));
        return c;
}

/* ---- tests ---- */

START_TEST(test_discovery_at_start)
{
        virConnectPtr conn = connect_or_fail();
        struct recorder rec = {0};
        char name[128];
        virDomainPtr d = new_domain(conn, true, NULL, name, sizeof(name));
        struct libvirt_conn *c = start_conn(&rec, 1000);
        const struct event *e;
        pid_t pid;

        /* Discovery is synchronous in libvirt_conn_start: no loop iteration needed. */
        ck_assert_str_eq(rec.ev[0].kind, "connected");
        e = find_event(&rec, 0, "up", LIBVIRT_UP_DISCOVERED, name);
        ck_assert_msg(e, "running domain %s not discovered", name);
        ck_assert_int_eq(libvirt_read_pid(LIBVIRT_PID_DIR_DEFAULT, name, &pid), 0);
        ck_assert_int_eq(e->pid, pid);
        ck_assert_int_eq(kill(pid, 0), 0);
        ck_assert_int_eq(libvirt_conn_generation(c), 1);

        libvirt_conn_free(c);
        drop_domain(d);
        virConnectClose(conn);
}
END_TEST

START_TEST(test_lifecycle_events)
{
        virConnectPtr conn = connect_or_fail();
        struct recorder rec = {0};
        struct libvirt_conn *c = start_conn(&rec, 1000);
        char name[128];
        size_t mark = rec.n;
        virDomainPtr d = new_domain(conn, false, NULL, name, sizeof(name));
        const struct event *e;

        if (!events_delivered) {
                fprintf(stderr, "SKIP test_lifecycle_events: libvirtd delivers no domain events here\n");
                drop_domain(d);
                libvirt_conn_free(c);
                virConnectClose(conn);
                return;
        }
        ck_assert_msg(wait_event(&rec, mark, "changed", LIBVIRT_CHANGE_DEFINED, name, 10),
                      "no defined event");
        mark = rec.n;
        ck_assert_int_eq(virDomainCreate(d), 0);
        e = wait_event(&rec, mark, "up", LIBVIRT_UP_BOOTED, name, 20);
        ck_assert_msg(e, "no started event");
        ck_assert_int_gt(e->pid, 0);
        mark = rec.n;
        ck_assert_int_eq(virDomainDestroy(d), 0);
        ck_assert_msg(wait_event(&rec, mark, "down", LIBVIRT_DOWN_DESTROYED, name, 10),
                      "no destroyed event");
        mark = rec.n;
        ck_assert_int_eq(virDomainUndefine(d), 0);
        ck_assert_msg(wait_event(&rec, mark, "changed", LIBVIRT_CHANGE_UNDEFINED, name, 10),
                      "no undefined event");
        /* Nothing of the wrong kind for this domain in between. */
        ck_assert_ptr_null(find_event(&rec, 0, "down", LIBVIRT_DOWN_CRASHED, name));

        virDomainFree(d);
        libvirt_conn_free(c);
        virConnectClose(conn);
}
END_TEST

static char *virsh_metadata(const char *name)
{
        _cleanup_free_ char *cmd = NULL;
        char *out = NULL;
        size_t size = 0;
        FILE *f;

        ck_assert_int_ge(
                asprintf(&cmd, "virsh -q -c " URI " metadata %s " VM_METADATA_URI " 2>/dev/null", name), 0);
        f = popen(cmd, "r");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_ge(getdelim(&out, &size, '\0', f), 0);
        ck_assert_int_eq(pclose(f), 0);
        return out;
}

START_TEST(test_metadata_round_trip)
{
        virConnectPtr conn = connect_or_fail();
        struct recorder rec = {0};
        struct libvirt_conn *c = start_conn(&rec, 1000);
        struct vm_metadata_limits lim = {.host_nodes = NULL, .guest_cells = 2};
        _cleanup_free_ char *text = NULL, *err = NULL, *cmd = NULL, *raw = NULL;
        struct vm_policy p, got;
        char name[128];
        virDomainPtr d = new_domain(conn, true, NULL, name, sizeof(name));
        size_t mark = rec.n;

        ck_assert_int_eq(libvirt_policy_get(conn, name, 0, &lim, &got, NULL, &err), -ENODATA);

        /* policy set -> virsh metadata */
        vm_policy_init(&p);
        p.mode = VM_POLICY_STRICT;
        idset_add(&p.nodes, 0);
        p.migrate_rate = 128u << 20;
        p.n_cell_nodes = 1;
        p.cell_nodes[0].cell = 1;
        idset_add(&p.cell_nodes[0].nodes, 0);
        ck_assert_int_eq(
                libvirt_policy_set(conn, name, &p, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG, &err),
                0);
        text = virsh_metadata(name);
        ck_assert_msg(strstr(text, "mode=\"strict\"") && strstr(text, "migrate-rate=\"128MiB\""),
                      "virsh: %s", text);
        ck_assert_int_eq(vm_metadata_parse(text, &lim, &got, &err), 0);
        ck_assert_int_eq(got.mode, VM_POLICY_STRICT);
        ck_assert(idset_equal(&got.nodes, &p.nodes));
        ck_assert_uint_eq(got.migrate_rate, p.migrate_rate);
        ck_assert(idset_test(vm_policy_cell_nodes(&got, 1), 0));
        if (events_delivered)
                ck_assert_msg(wait_event(&rec, mark, "changed", LIBVIRT_CHANGE_METADATA, name, 10),
                              "no metadata event");

        /* virsh metadata --set -> policy get */
        ck_assert_int_ge(asprintf(&cmd,
                                  "virsh -q -c " URI " metadata %s " VM_METADATA_URI
                                  " --key " VM_METADATA_KEY
                                  " --live --set '<policy mode=\"observe\" pin=\"none\"/>' >/dev/null",
                                  name),
                         0);
        ck_assert_int_eq(run(cmd), 0);
        ck_assert_int_eq(libvirt_policy_get(conn, name, VIR_DOMAIN_AFFECT_LIVE, &lim, &got, &raw, &err), 0);
        ck_assert_int_eq(got.mode, VM_POLICY_OBSERVE);
        ck_assert_int_eq(got.pin, VM_PIN_NONE);
        ck_assert(idset_is_empty(&got.nodes));
        ck_assert_ptr_nonnull(strstr(raw, VM_METADATA_URI));

        ck_assert_int_eq(
                libvirt_policy_clear(conn, name, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG, &err),
                0);
        ck_assert_int_eq(libvirt_policy_get(conn, name, 0, &lim, &got, NULL, &err), -ENODATA);

        libvirt_conn_free(c);
        drop_domain(d);
        virConnectClose(conn);
}
END_TEST

START_TEST(test_invalid_metadata)
{
        static const struct {
                const char *xml, *error;
        } cases[] = {
                {"<policy mode='sometimes'/>", "mode=\"sometimes\": unknown mode"},
                {"<policy mode='auto' nodes='0-'/>", "nodes=\"0-\": invalid node list"},
                {"<policy mode='auto' nodes='7'/>", "nodes=\"7\": host has no node 7"},
                {"<policy><cell id='5' nodes='0'/></policy>", "cell id=\"5\": guest has no cell 5"},
        };
        virConnectPtr conn = connect_or_fail();
        struct idset host = IDSET_EMPTY;
        struct vm_metadata_limits lim = {.host_nodes = &host, .guest_cells = 2};
        char name[128];
        virDomainPtr d = new_domain(conn, false, NULL, name, sizeof(name));

        idset_add(&host, 0); /* this machine's one node */
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *err = NULL;
                enum libvirt_policy_source src = _LIBVIRT_POLICY_SOURCE_MAX;
                struct vm_policy p;

                memset(&p, 0x5a, sizeof(p));
                ck_assert_int_eq(virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, cases[i].xml,
                                                      VM_METADATA_KEY, VM_METADATA_URI,
                                                      VIR_DOMAIN_AFFECT_CONFIG),
                                 0);
                ck_assert_int_eq(libvirt_policy_resolve(d, &lim, &p, &src, &err), -EINVAL);
                ck_assert_msg(err && startswith(err, cases[i].error), "%s: got %s", cases[i].xml,
                              strna(err));
                ck_assert_int_eq(src, _LIBVIRT_POLICY_SOURCE_MAX); /* nothing written: no action */
        }
        /* Malformed XML never gets into libvirt: it refuses it itself, and the element stays as it was. */
        ck_assert_int_lt(virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, "<policy mode='auto'",
                                              VM_METADATA_KEY, VM_METADATA_URI, VIR_DOMAIN_AFFECT_CONFIG),
                         0);
        ck_assert_int_eq(libvirt_last_error(NULL), -EINVAL);

        drop_domain(d);
        virConnectClose(conn);
}
END_TEST

START_TEST(test_xml_pins_observed)
{
        virConnectPtr conn = connect_or_fail();
        char pinned[128], plain[128];
        virDomainPtr dp = new_domain(conn, false, "<cputune><vcpupin vcpu='0' cpuset='0'/></cputune>",
                                     pinned, sizeof(pinned));
        virDomainPtr dn = new_domain(conn, false, NULL, plain, sizeof(plain));
        enum libvirt_policy_source src;
        struct vm_policy p;

        ck_assert_int_eq(libvirt_policy_resolve(dp, NULL, &p, &src, NULL), 0);
        ck_assert_int_eq(src, LIBVIRT_POLICY_XML_PINS);
        ck_assert_int_eq(p.mode, VM_POLICY_OBSERVE);
        ck_assert_str_eq(libvirt_policy_source_to_string(src), "libvirt XML pins");
        ck_assert_int_eq(libvirt_policy_resolve(dn, NULL, &p, &src, NULL), 0);
        ck_assert_int_eq(src, LIBVIRT_POLICY_DEFAULT);
        ck_assert_int_eq(p.mode, VM_POLICY_AUTO);

        drop_domain(dp);
        drop_domain(dn);
        virConnectClose(conn);
}
END_TEST

static char *cgroup_cpus_of(pid_t pid, pid_t tid)
{
        _cleanup_free_ char *file = NULL, *text = NULL, *cpus = NULL;
        char *path = NULL;

        ck_assert_int_ge(asprintf(&file, "%d/task/%d/cgroup", pid, tid), 0);
        ck_assert_int_eq(read_full_file_at("/proc", file, 1 << 16, &text, NULL), 0);
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                char *rel = strchr(line, ':');
                char *p = rel ? strchr(rel + 1, ':') : NULL;

                if (!p)
                        continue;
                *p++ = '\0';
                if (streq(rel + 1, "cpuset")) /* v1 */
                        ck_assert_int_ge(asprintf(&path, "/sys/fs/cgroup/cpuset%s/cpuset.cpus", p), 0);
                else if (streq(rel + 1, "") && !path) /* v2 */
                        ck_assert_int_ge(asprintf(&path, "/sys/fs/cgroup%s/cpuset.cpus", p), 0);
        }
        ck_assert_msg(path, "no cpuset cgroup for thread %d", tid);
        ck_assert_int_eq(read_one_line_at("/", path, &cpus), 0);
        free(path);
        return TAKE_PTR(cpus);
}

START_TEST(test_pins_through_libvirt)
{
        virConnectPtr conn = connect_or_fail();
        _cleanup_(qmp_client_freep) struct qmp_client *qmp = NULL;
        _cleanup_(guest_model_freep) struct guest_model *m = NULL;
        _cleanup_free_ char *err = NULL, *cmd = NULL, *cpus = NULL;
        struct actuator_result res;
        struct action act = {.type = ACTION_PIN_VCPUS, .cell = 1};
        char name[128];
        virDomainPtr d = new_domain(conn, true, NULL, name, sizeof(name));
        int last_cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1;

        ck_assert_int_eq(libvirt_qmp_open(d, &qmp), 0);
        ck_assert_msg(guest_model_query(qmp, "/proc", &m, &err) == 0, "guest model: %s", strna(err));

        idset_add(&act.vcpus, 1);
        idset_add(&act.cpus, last_cpu);
        ck_assert_int_eq(libvirt_actuator_apply(d, &act, m, &res, &err), 0);
        ck_assert_uint_eq(res.threads_pinned, 1);

        /* virsh vcpupin NAME 1 prints "1   CPUS" */
        ck_assert_int_ge(
                asprintf(&cmd, "virsh -q -c " URI " vcpupin %s 1 | grep -Eq '^ *1 +%d *$'", name, last_cpu),
                0);
        ck_assert_msg(run(cmd) == 0, "virsh vcpupin does not show vCPU 1 on CPU %d", last_cpu);
        for (unsigned i = 0; i < m->n_vcpus; i++)
                if (m->vcpus[i].index == 1) {
                        char want[16];

                        cpus = cgroup_cpus_of(m->pid, m->vcpus[i].tid);
                        snprintf(want, sizeof(want), "%d", last_cpu);
                        ck_assert_str_eq(cpus, want);
                }
        ck_assert_ptr_nonnull(cpus);

        /* A vCPU the guest does not have: refused before libvirt is asked. */
        act.vcpus = IDSET_EMPTY;
        idset_add(&act.vcpus, 7);
        ck_assert_int_eq(libvirt_actuator_apply(d, &act, m, &res, NULL), -ENOENT);

        /* Emulator pin, visible in virsh emulatorpin. */
        act = (struct action){.type = ACTION_PIN_EMULATOR, .cell = -1};
        idset_add(&act.cpus, 0);
        ck_assert_int_eq(libvirt_actuator_apply(d, &act, m, &res, &err), 0);
        free(cmd);
        ck_assert_int_ge(
                asprintf(&cmd, "virsh -q -c " URI " emulatorpin %s | grep -Eq '^ *\\*: +0 *$'", name), 0);
        ck_assert_msg(run(cmd) == 0, "virsh emulatorpin does not show CPU 0");

        /* Memory is not libvirt's job here. */
        act = (struct action){.type = ACTION_MIGRATE, .cell = 0};
        ck_assert_int_eq(libvirt_actuator_apply(d, &act, m, &res, NULL), -EOPNOTSUPP);

        qmp_client_free(TAKE_PTR(qmp));
        drop_domain(d);
        virConnectClose(conn);
}
END_TEST

START_TEST(test_guest_model_over_libvirt)
{
        virConnectPtr conn = connect_or_fail();
        _cleanup_(qmp_client_freep) struct qmp_client *qmp = NULL;
        _cleanup_(guest_model_freep) struct guest_model *m = NULL;
        _cleanup_free_ char *err = NULL, *hmp = NULL;
        char name[128];
        virDomainPtr d = new_domain(conn, true, NULL, name, sizeof(name));
        pid_t pid;

        ck_assert_int_eq(libvirt_qmp_open(d, &qmp), 0);
        ck_assert_msg(guest_model_query(qmp, "/proc", &m, &err) == 0, "guest model: %s", strna(err));
        ck_assert_int_eq(libvirt_read_pid(LIBVIRT_PID_DIR_DEFAULT, name, &pid), 0);
        ck_assert_int_eq(m->pid, pid);
        ck_assert_uint_eq(m->n_cells, 2);
        ck_assert_uint_eq(m->n_vcpus, 2);
        for (unsigned i = 0; i < 2; i++) {
                char want[32];

                snprintf(want, sizeof(want), "ram-node%u", i);
                ck_assert_int_eq(m->cells[i].id, (int)i);
                ck_assert_uint_ge(m->cells[i].n_regions, 1);
                ck_assert_str_eq(m->cells[i].regions[0].backend_id, want);
                ck_assert_uint_eq(m->cells[i].size_bytes, 64u << 20);
                ck_assert(idset_test(&m->cells[i].vcpus, (int)i));
                ck_assert_uint_ne(m->cells[i].regions[0].hva_start, 0);
        }

        /* Read-only: anything that changes QEMU is refused before it reaches libvirt. */
        ck_assert_int_eq(qmp_client_execute(qmp, "stop", NULL, NULL), -EPERM);
        ck_assert_int_eq(qmp_client_hmp(qmp, "system_reset", &hmp), -EPERM);
        ck_assert_int_eq(virDomainIsActive(d), 1);
        ck_assert_int_eq(qmp_client_hmp(qmp, "info numa", &hmp), 0);
        ck_assert_ptr_nonnull(strstr(hmp, "2 nodes"));

        qmp_client_free(TAKE_PTR(qmp));
        drop_domain(d);
        virConnectClose(conn);
}
END_TEST

struct wait_gen {
        const struct libvirt_conn *c;
        unsigned generation;
};

static bool reconnected(void *arg)
{
        const struct wait_gen *w = arg;

        return libvirt_conn_generation(w->c) >= w->generation && libvirt_conn_is_connected(w->c);
}

static pid_t libvirtd_pid(void)
{
        _cleanup_free_ char *line = NULL;
        int pid;

        if (read_one_line_at("/", "/run/libvirtd.pid", &line) < 0 || safe_atoi(line, &pid) < 0)
                return 0;
        return pid;
}

START_TEST(test_reconnect_after_libvirtd_restart)
{
        virConnectPtr conn = connect_or_fail();
        struct recorder rec = {0};
        char name[128];
        virDomainPtr d = new_domain(conn, true, NULL, name, sizeof(name));
        struct libvirt_conn *c;
        const struct event *down, *up;
        pid_t pid = libvirtd_pid();
        double killed;
        size_t mark;

        virDomainFree(d); /* the handle dies with the connection; cleanup goes by name */
        virConnectClose(conn);
        ck_assert_int_gt(pid, 0);
        c = start_conn(&rec, 500);
        mark = rec.n;

        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        killed = now_s();
        down = wait_event(&rec, mark, "disconnected", -1, NULL, 15);
        ck_assert_msg(down, "connection loss not noticed");
        /* Wait until that libvirtd is gone, let a reconnect attempt or two fail, then restart it. */
        for (double end = now_s() + 30; kill(pid, 0) == 0 && now_s() < end;)
                virEventRunDefaultImpl();
        ck_assert_int_ne(kill(pid, 0), 0);
        for (double end = now_s() + 1.2; now_s() < end;)
                virEventRunDefaultImpl();
        unsigned gen = libvirt_conn_generation(c);
        ck_assert_int_eq(run("libvirtd -d"), 0);
        double restarted = now_s();
        struct wait_gen w = {c, gen + 1};
        loop_until(reconnected, &w, 20);
        ck_assert_msg(reconnected(&w), "no reconnect within 20 s: %s", libvirt_conn_last_error(c));
        /* Backoff is capped at 4 x 500 ms here: back within 2 periods of the daemon's default (5 s). */
        ck_assert_double_lt(now_s() - restarted, 10.0);
        up = find_event(&rec, mark, "up", LIBVIRT_UP_DISCOVERED, name);
        ck_assert_msg(up, "running domain not rediscovered after the reconnect");
        ck_assert_double_gt(up->at, killed);

        libvirt_conn_free(c);
        conn = connect_or_fail();
        d = virDomainLookupByName(conn, name);
        drop_domain(d);
        virConnectClose(conn);
}
END_TEST

START_TEST(test_error_mapping_live)
{
        virConnectPtr conn = connect_or_fail();
        _cleanup_free_ char *err = NULL;
        virDomainPtr d = NULL;
        struct vm_policy p;

        ck_assert_int_eq(libvirt_domain_lookup(conn, "vnumad-no-such-domain", &d), -ENOENT);
        ck_assert_ptr_null(d);
        ck_assert_int_eq(libvirt_policy_get(conn, "vnumad-no-such-domain", 0, NULL, &p, NULL, &err),
                         -ENOENT);
        ck_assert_str_eq(err, "vnumad-no-such-domain: no such domain");
        virConnectClose(conn);
}
END_TEST

static void probe_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
        *(bool *)opaque = true;
}

static bool probe_events(void)
{
        _cleanup_free_ char *xml = NULL;
        virConnectPtr conn = virConnectOpen(URI);
        bool got = false;
        char name[128];
        int id;

        if (!conn)
                return false;
        snprintf(name, sizeof(name), "%sprobe", test_prefix);
        xml = domain_xml(name, NULL);
        id = virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                              VIR_DOMAIN_EVENT_CALLBACK(probe_cb), &got, NULL);
        virDomainPtr d = virDomainDefineXML(conn, xml);
        for (double end = now_s() + 5; !got && now_s() < end;)
                virEventRunDefaultImpl();
        if (d) {
                (void)virDomainUndefine(d);
                virDomainFree(d);
        }
        if (id >= 0)
                (void)virConnectDomainEventDeregisterAny(conn, id);
        virConnectClose(conn);
        virResetLastError();
        return got;
}

int main(void)
{
        Suite *s = suite_create("libvirt");
        TCase *tc = tcase_create("libvirtd");
        SRunner *sr;
        int failed;

        if (geteuid() != 0) {
                fprintf(stderr, "skip: needs root to run libvirtd and qemu:///system\n");
                return EXIT_SKIP;
        }
        if (run("command -v libvirtd virtlogd virsh qemu-system-x86_64 >/dev/null") != 0) {
                fprintf(stderr, "skip: libvirtd, virtlogd, virsh or qemu-system-x86_64 missing\n");
                return EXIT_SKIP;
        }
        if (!ensure_libvirtd()) {
                fprintf(stderr, "skip: libvirtd did not start\n");
                return EXIT_SKIP;
        }
        /* As in any libvirt client: a write to a connection libvirtd closed must fail, not kill us. */
        signal(SIGPIPE, SIG_IGN);
        snprintf(test_prefix, sizeof(test_prefix), "vnumad-test-%d-", (int)getpid());
        libvirt_quiet_errors();
        if (virEventRegisterDefaultImpl() < 0) {
                fprintf(stderr, "cannot register libvirt's event loop\n");
                return EXIT_FAILURE;
        }
        /* Wakes virEventRunDefaultImpl up regularly so loop_until checks its deadline. */
        virEventAddTimeout(100, wake_timer, NULL, NULL);
        atexit(cleanup_domains);
        events_delivered = probe_events();

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_error_mapping_live);
        tcase_add_test(tc, test_discovery_at_start);
        tcase_add_test(tc, test_lifecycle_events);
        tcase_add_test(tc, test_metadata_round_trip);
        tcase_add_test(tc, test_invalid_metadata);
        tcase_add_test(tc, test_xml_pins_observed);
        tcase_add_test(tc, test_guest_model_over_libvirt);
        tcase_add_test(tc, test_pins_through_libvirt);
        tcase_add_test(tc, test_reconnect_after_libvirtd_restart);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        /* One process: the event loop and libvirt's client state do not survive fork. */
        srunner_set_fork_status(sr, CK_NOFORK);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        cleanup_domains();
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
