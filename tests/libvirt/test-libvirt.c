/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumad's libvirt glue against a real libvirtd with small TCG domains (suite 'libvirt').
 *
 * Needs root, libvirtd, unshare, virsh and qemu-system-x86_64, and skips (77) without them. It
 * runs a libvirtd of its own (see "libvirtd" below). Every domain it defines is named
 * vnumad-test-PID-N and is destroyed and undefined again, also after a failed assertion (the
 * fixture's teardown, and atexit).
 *
 * One thread, like vnumad: libvirt's default event loop runs whenever the test waits, including
 * while a virsh child runs (run_cmd), so keepalive pings of every open connection are answered
 * and domain events are delivered. libvirtd closes a client that leaves its pings unanswered
 * for ~30 s (keepalive_interval 5 x keepalive_count 5), and libvirt_conn's own keepalive gives
 * up on a silent libvirtd after 5 s x 3; neither may happen here. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "../unit/test-util.h"
#include "vnuma/actuator/libvirt-actuator.h"
#include "vnuma/basic/fileio.h"
#include "vnuma/basic/macro.h"
#include "vnuma/basic/parse-util.h"
#include "vnuma/libvirt/libvirt-conn.h"
#include "vnuma/libvirt/libvirt-error.h"
#include "vnuma/libvirt/libvirt-policy.h"
#include "vnuma/libvirt/vm-metadata.h"
#include "vnuma/qemu/guest-query.h"
#include "vnuma/qmp/libvirt-qmp.h"
#include "vnuma/qmp/qmp.h"

#define HOST_URI   "qemu:///system"
#define EXIT_SKIP  77
#define MAX_EVENTS 512
/* How long any single wait (an event, a child, a reconnect) may take before the test fails. */
#define WAIT_S 30.0
/* With VNUMAD_TEST_LIBVIRT=host: keeps a vnumad that happens to run on this host from acting on
 * the test's domains (it manages every domain of the host's libvirtd). */
#define POLICY_OFF "<metadata><vnumad:policy xmlns:vnumad='" VM_METADATA_URI "' mode='off'/></metadata>"

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double t_start;

_printf_(1, 2) static void note(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "# %6.2f s  ", now_s() - t_start);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* ---- the event loop ---- */

static bool loop_ready;

static void wake_timer(int timer, void *opaque)
{
}

static void loop_once(void)
{
        /* The 50 ms wake timer bounds each iteration, so deadlines are checked often enough. */
        if (loop_ready)
                (void)virEventRunDefaultImpl();
        else
                usleep(50 * 1000);
}

static void loop_for(double seconds)
{
        for (double end = now_s() + seconds; now_s() < end;)
                loop_once();
}

static void loop_until(bool (*done)(void *), void *arg, double seconds)
{
        for (double end = now_s() + seconds; !done(arg) && now_s() < end;)
                loop_once();
}

/* ---- commands: sh -c CMD with its stdout captured, the event loop running meanwhile ---- */

/* Exit status of the command (-1 if it did not exit normally or timed out); its stdout goes to
 * *ret_out if non-NULL (NUL-terminated), else it is dropped. stderr is inherited. */
static int run_cmd(const char *cmd, char **ret_out)
{
        _cleanup_free_ char *out = NULL;
        size_t len = 0, size = 0;
        bool eof = false, reaped = false;
        int fds[2], status = 0;
        double end = now_s() + 120;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -1;
        pid = fork();
        if (pid < 0) {
                close(fds[0]);
                close(fds[1]);
                return -1;
        }
        if (pid == 0) {
                /* Only async-signal-safe calls: libvirt has threads in the parent. */
                if (dup2(fds[1], STDOUT_FILENO) < 0)
                        _exit(127);
                execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
                _exit(127);
        }
        close(fds[1]);
        (void)fcntl(fds[0], F_SETFL, O_NONBLOCK);

        while (!(eof && reaped)) {
                if (!eof) {
                        char buf[4096];
                        ssize_t n = read(fds[0], buf, sizeof(buf));

                        if (n > 0) {
                                if (len + (size_t)n + 1 > size) {
                                        char *p = realloc(out, size = 2 * (len + (size_t)n + 1));

                                        if (!p)
                                                abort();
                                        out = p;
                                }
                                memcpy(out + len, buf, (size_t)n);
                                len += (size_t)n;
                                continue;
                        }
                        if (n == 0 || (errno != EAGAIN && errno != EINTR))
                                eof = true;
                }
                if (!reaped) {
                        pid_t w = waitpid(pid, &status, WNOHANG);

                        if (w == pid || (w < 0 && errno != EINTR))
                                reaped = true;
                }
                if (eof && reaped)
                        break;
                if (now_s() > end) {
                        fprintf(stderr, "# command timed out, killing it: %s\n", cmd);
                        (void)kill(pid, SIGKILL);
                        (void)waitpid(pid, &status, 0);
                        close(fds[0]);
                        return -1;
                }
                loop_once();
        }
        close(fds[0]);
        if (ret_out) {
                if (!out && !(out = calloc(1, 1)))
                        abort();
                out[len] = '\0';
                *ret_out = TAKE_PTR(out);
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

_printf_(2, 3) static int runf(char **ret_out, const char *fmt, ...)
{
        _cleanup_free_ char *cmd = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&cmd, fmt, ap);
        va_end(ap);
        if (n < 0)
                abort();
        return run_cmd(cmd, ret_out);
}

/* ---- libvirtd ----
 *
 * By default the test runs its own libvirtd: the real daemon, in a mount namespace of its own
 * where /run/libvirt, /var/lib/libvirt, /var/cache/libvirt, /var/log/libvirt and /etc/libvirt
 * are directories under a temporary directory (bind mounts), with its pid file there too. The
 * host's libvirtd and whatever it manages (another vnumad included) never see the test's domains,
 * and the test can stop and restart its libvirtd without disturbing anyone. QEMU logs go straight
 * to files (stdio_handler "file"), so no virtlogd is needed. It runs as "vnumad-libvirtd" (a
 * symlink to libvirtd), so that `pgrep -x libvirtd` finds the host's daemon only. The test
 * reaches it through qemu+unix:///system?socket=DIR/run/libvirt-sock and reads QEMU pid files
 * from DIR/run/qemu.
 *
 * VNUMAD_TEST_LIBVIRT=host uses the host's libvirtd at qemu:///system instead (started with
 * `virtlogd -d; libvirtd -d` if it does not answer), holding /run/lock/vnumad-libvirt-tests.lock
 * as the other tests that restart it do; the reconnect test then restarts it. */

static char private_dir[256]; /* "" with the host's libvirtd */
static char uri[512];
static char pid_dir[512];
static char daemon_pidfile[512];
static char start_cmd[1024];

_printf_(2, 3) static int virshf(char **ret_out, const char *fmt, ...)
{
        _cleanup_free_ char *args = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&args, fmt, ap);
        va_end(ap);
        if (n < 0)
                abort();
        return runf(ret_out, "virsh -c '%s' %s", uri, args);
}

static bool libvirtd_answers(void)
{
        return virshf(NULL, "-q version >/dev/null 2>&1") == 0;
}

static bool wait_libvirtd(double seconds)
{
        for (double end = now_s() + seconds; now_s() < end; loop_for(0.2))
                if (libvirtd_answers())
                        return true;
        return false;
}

static pid_t libvirtd_pid(void)
{
        _cleanup_free_ char *line = NULL;
        int pid;

        if (read_one_line_at("/", daemon_pidfile, &line) < 0 || safe_atoi(line, &pid) < 0)
                return 0;
        return pid;
}

/* Gone, or a zombie nobody reaped yet. */
static bool process_gone(void *arg)
{
        pid_t pid = *(pid_t *)arg;
        _cleanup_free_ char *file = NULL, *stat = NULL;
        const char *p;

        if (kill(pid, 0) < 0)
                return true;
        if (asprintf(&file, "%d/stat", pid) < 0 || read_one_line_at("/proc", file, &stat) < 0)
                return true;
        p = strrchr(stat, ')');
        return p && p[1] == ' ' && p[2] == 'Z';
}

static bool start_libvirtd(void)
{
        if (run_cmd(start_cmd, NULL) != 0)
                return false;
        return wait_libvirtd(WAIT_S);
}

static bool prepare_private_libvirtd(void)
{
        static const char *const dirs[] = {"run", "lib", "lib/qemu", "cache", "log", "log/qemu", "etc"};
        _cleanup_free_ char *script = NULL;
        FILE *f;

        _cleanup_free_ char *dir = NULL;

        if (test_make_tmpdir("vnumad-test-libvirtd", &dir) < 0)
                return false;
        snprintf(private_dir, sizeof(private_dir), "%s", dir);
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                char d[512];

                snprintf(d, sizeof(d), "%s/%s", private_dir, dirs[i]);
                if (mkdir(d, 0755) < 0)
                        return false;
        }
        if (asprintf(&script, "%s/etc/qemu.conf", private_dir) < 0 || !(f = fopen(script, "we")))
                return false;
        fputs("stdio_handler = \"file\"\n", f);
        fclose(f);
        free(script);
        if (asprintf(&script, "%s/start.sh", private_dir) < 0 || !(f = fopen(script, "we")))
                return false;
        fprintf(f,
                "set -e\n"
                "mount --make-rprivate /\n"
                /* The mount points: /run/libvirt exists only once a libvirtd has run since boot. */
                "mkdir -p /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /etc/libvirt\n"
                "mount --bind '%1$s/run' /run/libvirt\n"
                "mount --bind '%1$s/lib' /var/lib/libvirt\n"
                "mount --bind '%1$s/cache' /var/cache/libvirt\n"
                "mount --bind '%1$s/log' /var/log/libvirt\n"
                "mount --bind '%1$s/etc' /etc/libvirt\n"
                /* Under a name of its own: whoever stops "the" libvirtd by process name
                 * (pgrep -x libvirtd) leaves this one alone. */
                "ln -sf \"$(command -v libvirtd)\" '%1$s/vnumad-libvirtd'\n"
                "exec '%1$s/vnumad-libvirtd' -d -p '%1$s/libvirtd.pid'\n",
                private_dir);
        fclose(f);
        snprintf(start_cmd, sizeof(start_cmd), "unshare -m sh '%s'", script);
        snprintf(uri, sizeof(uri), "qemu+unix:///system?socket=%s/run/libvirt-sock", private_dir);
        snprintf(pid_dir, sizeof(pid_dir), "%s/run/qemu", private_dir);
        snprintf(daemon_pidfile, sizeof(daemon_pidfile), "%s/libvirtd.pid", private_dir);
        return true;
}

static void use_host_libvirtd(void)
{
        snprintf(uri, sizeof(uri), "%s", HOST_URI);
        snprintf(pid_dir, sizeof(pid_dir), "%s", LIBVIRT_PID_DIR_DEFAULT);
        snprintf(daemon_pidfile, sizeof(daemon_pidfile), "/run/libvirtd.pid");
        snprintf(start_cmd, sizeof(start_cmd),
                 "{ pgrep -x virtlogd >/dev/null || virtlogd -d; } && libvirtd -d");
}

/* ---- domains ---- */

static char test_prefix[64];
static unsigned domain_counter;

struct recorder;
static virConnectPtr conn;      /* the test's own connection, to drive libvirt */
static struct recorder *rec;    /* what the connection under test reported */
static struct libvirt_conn *lc; /* the connection under test */

/* Destroys and undefines every domain of this test run. */
static void remove_test_domains(void)
{
        virConnectPtr c = virConnectOpen(uri);
        virDomainPtr *doms = NULL;
        int n;

        n = c ? virConnectListAllDomains(c, &doms, 0) : -1;
        for (int i = 0; i < n; i++) {
                const char *name = virDomainGetName(doms[i]);

                /* Only ours: the prefix carries this process's pid. */
                if (name && startswith(name, test_prefix)) {
                        (void)virDomainDestroy(doms[i]);
                        (void)virDomainUndefine(doms[i]);
                }
                virDomainFree(doms[i]);
        }
        free(doms);
        if (c)
                virConnectClose(c);
        virResetLastError();
}

static void cleanup_at_exit(void)
{
        pid_t pid;

        if (private_dir[0] && !libvirtd_answers()) {
                /* Someone stopped it: start it again to stop the domains it leaves behind. */
                fprintf(stderr, "# the private libvirtd is gone; restarting it to clean up\n");
                (void)start_libvirtd();
        }
        remove_test_domains();
        if (!private_dir[0])
                return;
        pid = libvirtd_pid();
        if (pid > 0 && kill(pid, SIGTERM) == 0)
                for (double end = now_s() + WAIT_S; !process_gone(&pid) && now_s() < end;)
                        loop_once();
        (void)runf(NULL, "rm -rf '%s'", private_dir);
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
        virConnectPtr c = virConnectOpen(uri);

        ck_assert_msg(c, "cannot connect to %s", uri);
        libvirt_quiet_conn_errors(c);
        return c;
}

/* Defines (and starts, if start) a fresh test domain; its name goes to name_out. */
static virDomainPtr new_domain(virConnectPtr vc, bool start, const char *extra, char *name_out, size_t size)
{
        _cleanup_free_ char *xml = NULL, *err = NULL;
        virDomainPtr d;

        snprintf(name_out, size, "%s%u", test_prefix, domain_counter++);
        xml = domain_xml(name_out, extra);
        d = virDomainDefineXML(vc, xml);
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

/* The host's NUMA nodes, from sysfs. */
static struct idset host_nodes(void)
{
        _cleanup_free_ char *line = NULL;
        struct idset s = IDSET_EMPTY;

        ck_assert_int_eq(read_one_line_at("/", "/sys/devices/system/node/online", &line), 0);
        ck_assert_int_eq(idset_parse(line, &s), 0);
        ck_assert(!idset_is_empty(&s));
        return s;
}

/* ---- event recorder ---- */

struct event {
        char kind[16]; /* "up", "down", "changed", "connected", "disconnected" */
        int why;
        char reason[128]; /* of a disconnect */
        char name[128];
        char uuid[VIR_UUID_STRING_BUFLEN];
        int id;
        pid_t pid;
        double at;
};

struct recorder {
        size_t n;
        struct event ev[MAX_EVENTS];
};

static struct event *record(struct recorder *r, const char *kind, int why,
                            const struct libvirt_domain_ref *d)
{
        struct event *e;

        if (r->n >= MAX_EVENTS)
                return NULL;
        e = &r->ev[r->n++];
        snprintf(e->kind, sizeof(e->kind), "%s", kind);
        e->why = why;
        snprintf(e->name, sizeof(e->name), "%s", d ? d->name : "");
        snprintf(e->uuid, sizeof(e->uuid), "%s", d ? d->uuid : "");
        e->id = d ? d->id : -1;
        e->pid = d ? d->pid : 0;
        e->at = now_s();
        return e;
}

static void cb_connection(struct libvirt_conn *c, bool connected, const char *reason, void *u)
{
        note("libvirt_conn: %s%s%s", connected ? "connected" : "disconnected", reason ? ": " : "",
             strempty(reason));
        struct event *e = record(u, connected ? "connected" : "disconnected", 0, NULL);

        if (e)
                snprintf(e->reason, sizeof(e->reason), "%s", strempty(reason));
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

/* Starts the connection under test (lc), recording into rec. */
static struct libvirt_conn *start_conn(unsigned reconnect_min_ms)
{
        struct libvirt_conn_config cfg;
        struct libvirt_conn *c = NULL;

        ck_assert_ptr_null(lc);
        libvirt_conn_config_init(&cfg);
        cfg.uri = uri;
        cfg.pid_dir = pid_dir;
        cfg.reconnect_min_ms = reconnect_min_ms;
        cfg.reconnect_max_ms = 4 * reconnect_min_ms;
        ck_assert_int_eq(libvirt_conn_new(&cfg, &recorder_callbacks, rec, &c), 0);
        lc = c; /* the fixture frees it, also after a failed assertion */
        ck_assert_msg(libvirt_conn_start(c) == 0, "libvirt_conn_start: %s", libvirt_conn_last_error(c));
        ck_assert(libvirt_conn_is_connected(c));
        return c;
}

/* Every test: its own connection for driving libvirt (conn), a fresh recorder, and afterwards
 * the connection under test freed and this test's domains gone, also when an assertion failed
 * (CK_NOFORK: a failure jumps out of the test function, skipping its own cleanup). */
static void setup(void)
{
        rec = calloc(1, sizeof(*rec));
        ck_assert_ptr_nonnull(rec);
        conn = connect_or_fail();
}

static void teardown(void)
{
        lc = libvirt_conn_free(lc);
        if (conn)
                virConnectClose(conn);
        conn = NULL;
        remove_test_domains();
        free(rec);
        rec = NULL;
}

/* ---- tests ---- */

START_TEST(test_error_mapping_live)
{
        _cleanup_free_ char *err = NULL;
        virDomainPtr d = NULL;
        struct vm_policy p;

        note("%s", __func__);
        ck_assert_int_eq(libvirt_domain_lookup(conn, "vnumad-no-such-domain", &d), -ENOENT);
        ck_assert_ptr_null(d);
        ck_assert_int_eq(libvirt_policy_get(conn, "vnumad-no-such-domain", 0, NULL, &p, NULL, &err),
                         -ENOENT);
        ck_assert_str_eq(err, "vnumad-no-such-domain: no such domain");
}
END_TEST

START_TEST(test_discovery_at_start)
{
        char name[128], uuid[VIR_UUID_STRING_BUFLEN];
        const struct event *e;
        virDomainPtr d;
        pid_t pid;

        note("%s", __func__);
        d = new_domain(conn, true, NULL, name, sizeof(name));
        ck_assert_int_eq(virDomainGetUUIDString(d, uuid), 0);
        start_conn(1000);

        /* Discovery is synchronous in libvirt_conn_start: no loop iteration needed. */
        ck_assert_uint_ge(rec->n, 2);
        ck_assert_str_eq(rec->ev[0].kind, "connected");
        e = find_event(rec, 0, "up", LIBVIRT_UP_DISCOVERED, name);
        ck_assert_msg(e, "running domain %s not discovered", name);
        ck_assert_str_eq(e->uuid, uuid);
        ck_assert_int_eq(e->id, (int)virDomainGetID(d));
        ck_assert_int_eq(libvirt_read_pid(pid_dir, name, &pid), 0);
        ck_assert_int_eq(e->pid, pid);
        ck_assert_int_eq(kill(pid, 0), 0);
        /* Only running domains. */
        for (size_t i = 0; i < rec->n; i++)
                if (streq(rec->ev[i].kind, "up"))
                        ck_assert_int_gt(rec->ev[i].id, 0);
        ck_assert_uint_eq(libvirt_conn_generation(lc), 1);
        ck_assert_uint_eq(libvirt_conn_retry_delay_ms(lc), 0);

        /* Connected and idle for longer than libvirtd's keepalive window would allow an unanswered
         * client (5 s x 5): the connection stays up while the loop runs. */
        pid_t daemon = libvirtd_pid();

        loop_for(2 * LIBVIRT_KEEPALIVE_INTERVAL_S + 1);
        e = find_event(rec, 0, "disconnected", -1, NULL);
        ck_assert_msg(!e, "connection dropped while idle: %s (libvirtd pid %d, now %d)", e ? e->reason : "",
                      daemon, libvirtd_pid());
        ck_assert(libvirt_conn_is_connected(lc));

        drop_domain(d);
}
END_TEST

START_TEST(test_lifecycle_events)
{
        char name[128];
        const struct event *e;
        virDomainPtr d;
        size_t mark;
        pid_t pid;

        note("%s", __func__);
        start_conn(1000);
        mark = rec->n;
        d = new_domain(conn, false, NULL, name, sizeof(name));
        ck_assert_msg(wait_event(rec, mark, "changed", LIBVIRT_CHANGE_DEFINED, name, WAIT_S),
                      "no defined event");

        mark = rec->n;
        ck_assert_int_eq(virDomainCreate(d), 0);
        e = wait_event(rec, mark, "up", LIBVIRT_UP_BOOTED, name, WAIT_S);
        ck_assert_msg(e, "no started event");
        ck_assert_int_eq(libvirt_read_pid(pid_dir, name, &pid), 0);
        ck_assert_int_eq(e->pid, pid);
        ck_assert_int_eq(e->id, (int)virDomainGetID(d));

        mark = rec->n;
        ck_assert_int_eq(virDomainDestroy(d), 0);
        e = wait_event(rec, mark, "down", LIBVIRT_DOWN_DESTROYED, name, WAIT_S);
        ck_assert_msg(e, "no destroyed event");
        ck_assert_int_eq(e->pid, 0);

        mark = rec->n;
        ck_assert_int_eq(virDomainUndefine(d), 0);
        ck_assert_msg(wait_event(rec, mark, "changed", LIBVIRT_CHANGE_UNDEFINED, name, WAIT_S),
                      "no undefined event");

        /* Nothing of the wrong kind for this domain. */
        ck_assert_ptr_null(find_event(rec, 0, "down", LIBVIRT_DOWN_CRASHED, name));
        ck_assert_ptr_null(find_event(rec, 0, "down", LIBVIRT_DOWN_GONE, name));
        ck_assert_ptr_null(find_event(rec, 0, "disconnected", -1, NULL));

        virDomainFree(d);
}
END_TEST

START_TEST(test_metadata_round_trip)
{
        struct idset host = host_nodes();
        struct vm_metadata_limits lim = {.host_nodes = &host, .guest_cells = 2};
        _cleanup_free_ char *text = NULL, *err = NULL, *raw = NULL;
        int first_node = idset_next(&host, 0);
        struct vm_policy p, got;
        char name[128];
        virDomainPtr d;
        size_t mark;

        note("%s", __func__);
        start_conn(1000);
        d = new_domain(conn, true, NULL, name, sizeof(name));
        ck_assert_int_eq(libvirt_policy_get(conn, name, 0, &lim, &got, NULL, &err), -ENODATA);

        /* policy set -> virsh metadata */
        mark = rec->n;
        vm_policy_init(&p);
        p.mode = VM_POLICY_STRICT;
        idset_add(&p.nodes, first_node);
        p.migrate_rate = 128u << 20;
        p.n_cell_nodes = 1;
        p.cell_nodes[0].cell = 1;
        idset_add(&p.cell_nodes[0].nodes, first_node);
        ck_assert_int_eq(
                libvirt_policy_set(conn, name, &p, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG, &err),
                0);
        ck_assert_int_eq(virshf(&text, "-q metadata %s " VM_METADATA_URI, name), 0);
        ck_assert_msg(strstr(text, "mode=\"strict\"") && strstr(text, "migrate-rate=\"128MiB\""),
                      "virsh: %s", text);
        ck_assert_int_eq(vm_metadata_parse(text, &lim, &got, &err), 0);
        ck_assert(vm_policy_equal(&got, &p));
        free(text);
        text = NULL;
        /* Both the live and the persistent definition got it. */
        ck_assert_int_eq(virshf(&text, "-q metadata %s " VM_METADATA_URI " --config", name), 0);
        ck_assert_ptr_nonnull(strstr(text, "mode=\"strict\""));
        ck_assert_msg(wait_event(rec, mark, "changed", LIBVIRT_CHANGE_METADATA, name, WAIT_S),
                      "no metadata event");

        /* virsh metadata --set -> policy get */
        mark = rec->n;
        ck_assert_int_eq(virshf(NULL,
                                "-q metadata %s " VM_METADATA_URI " --key " VM_METADATA_KEY
                                " --live --set '<policy mode=\"observe\" pin=\"none\"/>' >/dev/null",
                                name),
                         0);
        ck_assert_int_eq(libvirt_policy_get(conn, name, VIR_DOMAIN_AFFECT_LIVE, &lim, &got, &raw, &err), 0);
        ck_assert_int_eq(got.mode, VM_POLICY_OBSERVE);
        ck_assert_int_eq(got.pin, VM_PIN_NONE);
        ck_assert(idset_is_empty(&got.nodes));
        ck_assert_uint_eq(got.n_cell_nodes, 0);
        ck_assert_msg(strstr(raw, "mode=\"observe\""), "raw: %s", raw);
        ck_assert_msg(wait_event(rec, mark, "changed", LIBVIRT_CHANGE_METADATA, name, WAIT_S),
                      "no metadata event after virsh metadata --set");
        /* Only --live: the persistent definition still has the strict policy. */
        ck_assert_int_eq(libvirt_policy_get(conn, name, VIR_DOMAIN_AFFECT_CONFIG, &lim, &got, NULL, &err),
                         0);
        ck_assert_int_eq(got.mode, VM_POLICY_STRICT);

        ck_assert_int_eq(
                libvirt_policy_clear(conn, name, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG, &err),
                0);
        ck_assert_int_eq(libvirt_policy_get(conn, name, 0, &lim, &got, NULL, &err), -ENODATA);
        ck_assert_int_eq(libvirt_policy_get(conn, name, VIR_DOMAIN_AFFECT_CONFIG, &lim, &got, NULL, &err),
                         -ENODATA);
        /* Clearing what is not there is fine. */
        ck_assert_int_eq(libvirt_policy_clear(conn, name, VIR_DOMAIN_AFFECT_LIVE, &err), 0);

        drop_domain(d);
}
END_TEST

START_TEST(test_invalid_metadata)
{
        struct idset host = host_nodes();
        int absent = idset_next(&host, 0);
        char absent_xml[64], absent_error[64];
        const struct {
                const char *xml, *error;
        } cases[] = {
                {"<policy mode='sometimes'/>", "mode=\"sometimes\": unknown mode"},
                {"<policy mode='auto' nodes='0-'/>", "nodes=\"0-\": invalid node list"},
                {absent_xml, absent_error},
                {"<policy><cell id='5' nodes='0'/></policy>", "cell id=\"5\": guest has no cell 5"},
        };
        struct vm_metadata_limits lim = {.host_nodes = &host, .guest_cells = 2};
        _cleanup_free_ char *before = NULL, *after = NULL, *err = NULL;
        struct vm_policy p;
        char name[128];
        virDomainPtr d;

        note("%s", __func__);
        while (idset_test(&host, absent))
                absent++;
        snprintf(absent_xml, sizeof(absent_xml), "<policy mode='auto' nodes='%d'/>", absent);
        snprintf(absent_error, sizeof(absent_error), "nodes=\"%d\": host has no node %d", absent, absent);
        d = new_domain(conn, false, NULL, name, sizeof(name));

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *xml = NULL;
                enum libvirt_policy_source src = _LIBVIRT_POLICY_SOURCE_MAX;

                memset(&p, 0x5a, sizeof(p));
                ck_assert_int_eq(virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, cases[i].xml,
                                                      VM_METADATA_KEY, VM_METADATA_URI,
                                                      VIR_DOMAIN_AFFECT_CONFIG),
                                 0);
                free(err);
                err = NULL;
                ck_assert_int_eq(libvirt_policy_resolve(d, &lim, &p, &src, &err), -EINVAL);
                ck_assert_msg(err && streq(err, cases[i].error), "%s: got %s", cases[i].xml, strna(err));
                ck_assert_int_eq(src, _LIBVIRT_POLICY_SOURCE_MAX); /* nothing written: no action */
                /* The raw element comes back with the error, for `vnumactl policy get`. */
                free(err);
                err = NULL;
                ck_assert_int_eq(libvirt_policy_get_dom(d, 0, &lim, &p, &xml, &err), -EINVAL);
                ck_assert_ptr_nonnull(xml);
                ck_assert_ptr_nonnull(strstr(xml, "policy"));
        }

        /* Malformed XML never gets into libvirt: libvirt refuses it itself (VIR_ERR_XML_DETAIL ->
         * -EINVAL), and the element stays what it was. Our parser says "malformed XML" for it. */
        before = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, VM_METADATA_URI, 0);
        ck_assert_ptr_nonnull(before);
        ck_assert_int_lt(virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, "<policy mode='auto'",
                                              VM_METADATA_KEY, VM_METADATA_URI, VIR_DOMAIN_AFFECT_CONFIG),
                         0);
        ck_assert_int_eq(libvirt_last_error(NULL), -EINVAL);
        ck_assert_int_ne(virshf(NULL,
                                "-q metadata %s " VM_METADATA_URI " --key " VM_METADATA_KEY
                                " --config --set \"<policy mode='auto'\" >/dev/null 2>&1",
                                name),
                         0);
        after = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, VM_METADATA_URI, 0);
        ck_assert_ptr_nonnull(after);
        ck_assert_str_eq(after, before);
        free(err);
        err = NULL;
        ck_assert_int_eq(vm_metadata_parse("<policy mode='auto'", &lim, &p, &err), -EINVAL);
        ck_assert_msg(err && startswith(err, "malformed XML"), "got %s", strna(err));

        drop_domain(d);
}
END_TEST

/* Pins vCPU 0 of a running domain to the host's first CPU through the actuator. */
static void pin_vcpu0_live(virDomainPtr d)
{
        struct action act = {.type = ACTION_PIN_VCPUS, .cell = 0};
        struct actuator_result res;
        _cleanup_free_ char *err = NULL;

        idset_add(&act.vcpus, 0);
        idset_add(&act.cpus, 0);
        ck_assert_msg(libvirt_actuator_apply(d, &act, NULL, &res, &err) == 0, "pin: %s", strna(err));
        ck_assert_uint_eq(res.threads_pinned, 1);
}

START_TEST(test_xml_pins_observed)
{
        char pinned[128], numa[128], plain[128], transient[128], numa_t[128], numatune[128];
        _cleanup_free_ char *xml = NULL;
        struct idset host = host_nodes();
        virDomainPtr dp, dm, dn, dt, dtm;
        enum libvirt_policy_source src;
        _cleanup_free_ char *err = NULL;
        struct vm_policy p;

        note("%s", __func__);
        dp = new_domain(conn, false, "<cputune><vcpupin vcpu='0' cpuset='0'/></cputune>", pinned,
                        sizeof(pinned));
        dm = new_domain(conn, false, "<numatune><memory mode='strict' nodeset='0'/></numatune>", numa,
                        sizeof(numa));
        dn = new_domain(conn, false, NULL, plain, sizeof(plain));

        ck_assert_int_eq(libvirt_policy_resolve(dp, NULL, &p, &src, NULL), 0);
        ck_assert_int_eq(src, LIBVIRT_POLICY_XML_PINS);
        ck_assert_int_eq(p.mode, VM_POLICY_OBSERVE);
        ck_assert_str_eq(libvirt_policy_source_to_string(src), "libvirt XML pins");
        ck_assert_int_eq(libvirt_policy_resolve(dm, NULL, &p, &src, NULL), 0);
        ck_assert_int_eq(src, LIBVIRT_POLICY_XML_PINS);
        ck_assert_int_eq(libvirt_policy_resolve(dn, NULL, &p, &src, &err), 0);
        ck_assert_int_eq(src, LIBVIRT_POLICY_DEFAULT);
        ck_assert_int_eq(p.mode, VM_POLICY_AUTO);
        ck_assert_ptr_null(err); /* no metadata is not an error */

        /* Metadata beats the XML pins. */
        ck_assert_int_eq(virDomainSetMetadata(dp, VIR_DOMAIN_METADATA_ELEMENT, "<policy mode='strict'/>",
                                              VM_METADATA_KEY, VM_METADATA_URI, VIR_DOMAIN_AFFECT_CONFIG),
                         0);
        ck_assert_int_eq(libvirt_policy_resolve(dp, NULL, &p, &src, &err), 0);
        ck_assert_int_eq(src, LIBVIRT_POLICY_METADATA);
        ck_assert_int_eq(p.mode, VM_POLICY_STRICT);

        /* vnumad's own live pins are not the operator's: a running domain that vnumad pinned
         * stays "default", persistent or transient. A transient domain's <numatune> counts. */
        ck_assert_int_eq(virDomainCreate(dn), 0);
        pin_vcpu0_live(dn);
        ck_assert_int_eq(libvirt_policy_resolve(dn, NULL, &p, &src, NULL), 0);
        ck_assert_int_eq(src, LIBVIRT_POLICY_DEFAULT);

        snprintf(transient, sizeof(transient), "%s%u", test_prefix, domain_counter++);
        xml = domain_xml(transient, NULL);
        dt = virDomainCreateXML(conn, xml, 0);
        ck_assert_ptr_nonnull(dt);
        ck_assert_int_eq(virDomainIsPersistent(dt), 0);
        ck_assert_int_eq(libvirt_policy_resolve(dt, NULL, &p, &src, NULL), 0);
        ck_assert_int_eq(src, LIBVIRT_POLICY_DEFAULT);
        pin_vcpu0_live(dt);
        ck_assert_int_eq(libvirt_policy_resolve(dt, NULL, &p, &src, NULL), 0);
        ck_assert_int_eq(src, LIBVIRT_POLICY_DEFAULT);
        ck_assert_int_eq(p.mode, VM_POLICY_AUTO);

        free(xml);
        snprintf(numa_t, sizeof(numa_t), "%s%u", test_prefix, domain_counter++);
        snprintf(numatune, sizeof(numatune), "<numatune><memory mode='strict' nodeset='%d'/></numatune>",
                 idset_next(&host, 0));
        xml = domain_xml(numa_t, numatune);
        dtm = virDomainCreateXML(conn, xml, 0);
        ck_assert_ptr_nonnull(dtm);
        ck_assert_int_eq(libvirt_policy_resolve(dtm, NULL, &p, &src, NULL), 0);
        ck_assert_int_eq(src, LIBVIRT_POLICY_XML_PINS);
        ck_assert_int_eq(p.mode, VM_POLICY_OBSERVE);

        drop_domain(dp);
        drop_domain(dm);
        drop_domain(dn);
        drop_domain(dt);
        drop_domain(dtm);
}
END_TEST

/* Whether a vnumad runs on this host: it manages every libvirt domain it sees. */
static bool vnumad_running(void)
{
        return run_cmd("pgrep -x vnumad >/dev/null", NULL) == 0;
}

/* Whether libvirt marked the domain tainted "custom-monitor" (a monitor command went through). */
static bool tainted_custom_monitor(virDomainPtr d)
{
        char **msgs = NULL;
        bool found = false;
        int n = virDomainGetMessages(d, &msgs, VIR_DOMAIN_MESSAGE_TAINTING);

        ck_assert_int_ge(n, 0);
        for (int i = 0; i < n; i++) {
                /* "tainted: custom monitor control commands issued" */
                if (strstr(msgs[i], "custom monitor") || strstr(msgs[i], "custom-monitor"))
                        found = true;
                free(msgs[i]);
        }
        free(msgs);
        return found;
}

START_TEST(test_guest_model_over_libvirt)
{
        _cleanup_(qmp_client_freep) struct qmp_client *qmp = NULL;
        _cleanup_(guest_model_freep) struct guest_model *m = NULL;
        _cleanup_free_ char *err = NULL, *hmp = NULL;
        char name[128];
        virDomainPtr d;
        int state = -1, reason;
        bool clean;
        pid_t pid;

        note("%s", __func__);
        d = new_domain(conn, true, POLICY_OFF, name, sizeof(name));
        ck_assert_int_eq(libvirt_qmp_open(d, &qmp), 0);

        /* Read-only: anything that changes QEMU is refused before it reaches libvirt. Proof:
         * libvirt taints a domain on the first monitor command it passes, and this one has had
         * none yet; and the guest still runs. (A vnumad running on this host queries every
         * domain through libvirt too, whatever its policy: then the taint proves nothing.) */
        clean = !tainted_custom_monitor(d);
        ck_assert_int_eq(qmp_client_execute(qmp, "stop", NULL, NULL), -EPERM);
        ck_assert_int_eq(qmp_client_execute(qmp, "system_reset", NULL, NULL), -EPERM);
        ck_assert_int_eq(qmp_client_execute(qmp, "qom-set", NULL, NULL), -EPERM);
        ck_assert_int_eq(qmp_client_hmp(qmp, "system_reset", &hmp), -EPERM);
        ck_assert_int_eq(qmp_client_hmp(qmp, "info numa; stop", &hmp), -EPERM);
        ck_assert_int_eq(virDomainGetState(d, &state, &reason, 0), 0);
        ck_assert_int_eq(state, VIR_DOMAIN_RUNNING);
        if (clean && !tainted_custom_monitor(d))
                note("no refused command reached libvirt (the domain is not tainted)");
        else if (!clean || vnumad_running())
                note("the domain was tainted by another libvirt client (a vnumad on this host?): "
                     "cannot tell whether a refused command reached libvirt");
        else
                ck_abort_msg("a refused command reached libvirt: the domain is tainted custom-monitor");

        ck_assert_msg(guest_model_query(qmp, "/proc", &m, &err) == 0, "guest model: %s", strna(err));
        ck_assert(tainted_custom_monitor(d));
        ck_assert_int_eq(libvirt_read_pid(pid_dir, name, &pid), 0);
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
        for (unsigned i = 0; i < m->n_vcpus; i++) {
                /* Each vCPU thread is a thread of the QEMU process. */
                char task[64];

                snprintf(task, sizeof(task), "/proc/%d/task/%d", pid, m->vcpus[i].tid);
                ck_assert_int_eq(access(task, F_OK), 0);
        }

        ck_assert_int_eq(qmp_client_hmp(qmp, "info numa", &hmp), 0);
        ck_assert_ptr_nonnull(strstr(hmp, "2 nodes"));
        ck_assert_int_eq(virDomainGetState(d, &state, &reason, 0), 0);
        ck_assert_int_eq(state, VIR_DOMAIN_RUNNING);

        qmp_client_free(TAKE_PTR(qmp));
        drop_domain(d);
}
END_TEST

/* cpuset.cpus of the cgroup thread tid of pid is in: cgroup v1 (cpuset controller) or v2. */
static char *cgroup_cpus_of(pid_t pid, pid_t tid)
{
        _cleanup_free_ char *file = NULL, *text = NULL, *cpus = NULL, *v1 = NULL, *v2 = NULL;
        char *path = NULL;

        ck_assert_int_ge(asprintf(&file, "%d/task/%d/cgroup", pid, tid), 0);
        ck_assert_int_eq(read_full_file_at("/proc", file, 1 << 16, &text, NULL), 0);
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
                char *ctl = strchr(line, ':');
                char *rel = ctl ? strchr(ctl + 1, ':') : NULL;

                if (!rel)
                        continue;
                *rel++ = '\0';
                ctl++;
                if (!v1 && streq(ctl, "cpuset"))
                        ck_assert_int_ge(asprintf(&v1, "/sys/fs/cgroup/cpuset%s/cpuset.cpus", rel), 0);
                else if (!v2 && streq(ctl, "") && streq(line, "0")) {
                        /* Unified at /sys/fs/cgroup, or at /sys/fs/cgroup/unified in hybrid mode. */
                        ck_assert_int_ge(asprintf(&v2, "/sys/fs/cgroup%s/cpuset.cpus", rel), 0);
                        if (access(v2, F_OK) < 0) {
                                free(v2);
                                ck_assert_int_ge(asprintf(&v2, "/sys/fs/cgroup/unified%s/cpuset.cpus", rel),
                                                 0);
                        }
                }
        }
        path = v1 && access(v1, F_OK) == 0 ? v1 : v2;
        ck_assert_msg(path, "no cpuset cgroup for thread %d", tid);
        ck_assert_msg(read_one_line_at("/", path, &cpus) == 0, "cannot read %s", path);
        note("vCPU thread %d: %s = %s", tid, path, cpus);
        return TAKE_PTR(cpus);
}

static char *affinity_of(pid_t tid)
{
        cpu_set_t set;
        struct idset s = IDSET_EMPTY;
        char buf[256];

        ck_assert_int_eq(sched_getaffinity(tid, sizeof(set), &set), 0);
        for (int cpu = 0; cpu < CPU_SETSIZE && cpu < IDSET_MAX; cpu++)
                if (CPU_ISSET(cpu, &set))
                        idset_add(&s, cpu);
        ck_assert_int_eq(idset_format(&s, buf, sizeof(buf)), 0);
        return strdup(buf);
}

START_TEST(test_pins_through_libvirt)
{
        _cleanup_(qmp_client_freep) struct qmp_client *qmp = NULL;
        _cleanup_(guest_model_freep) struct guest_model *m = NULL;
        _cleanup_free_ char *err = NULL, *out = NULL, *cpus = NULL, *aff = NULL, *before0 = NULL,
                            *after0 = NULL, *aff0 = NULL;
        int r;
        struct actuator_result res;
        struct action act = {.type = ACTION_PIN_VCPUS, .cell = 1};
        pid_t tid0 = 0, tid1 = 0;
        char name[128];
        virDomainPtr d;

        note("%s", __func__);
        d = new_domain(conn, true, POLICY_OFF, name, sizeof(name));
        ck_assert_int_eq(libvirt_qmp_open(d, &qmp), 0);
        ck_assert_msg(guest_model_query(qmp, "/proc", &m, &err) == 0, "guest model: %s", strna(err));
        for (unsigned i = 0; i < m->n_vcpus; i++) {
                if (m->vcpus[i].index == 0)
                        tid0 = m->vcpus[i].tid;
                if (m->vcpus[i].index == 1)
                        tid1 = m->vcpus[i].tid;
        }
        ck_assert_int_gt(tid0, 0);
        ck_assert_int_gt(tid1, 0);
        before0 = cgroup_cpus_of(m->pid, tid0);

        /* vCPU 1 -> CPU 0 */
        idset_add(&act.vcpus, 1);
        idset_add(&act.cpus, 0);
        ck_assert_msg(libvirt_actuator_apply(d, &act, m, &res, &err) == 0, "pin: %s", strna(err));
        ck_assert_uint_eq(res.threads_pinned, 1);

        /* virsh vcpupin NAME prints one "VCPU  CPU-AFFINITY" row per vCPU. */
        ck_assert_int_eq(virshf(&out, "-q vcpupin %s | awk '$1 == 1 { print $2 }'", name), 0);
        ck_assert_msg(streq(out, "0\n"), "virsh vcpupin shows vCPU 1 on \"%s\", not on CPU 0", out);
        cpus = cgroup_cpus_of(m->pid, tid1);
        ck_assert_str_eq(cpus, "0");
        aff = affinity_of(tid1);
        ck_assert_str_eq(aff, "0");
        /* vCPU 0 untouched. */
        after0 = cgroup_cpus_of(m->pid, tid0);
        ck_assert_str_eq(after0, before0);

        /* A vCPU the guest does not have: refused before libvirt is asked. */
        act.vcpus = IDSET_EMPTY;
        idset_add(&act.vcpus, 7);
        ck_assert_int_eq(libvirt_actuator_apply(d, &act, m, &res, NULL), -ENOENT);
        ck_assert_uint_eq(res.threads_pinned, 0);

        /* All or nothing: without a model to check against, vCPU 0 is pinned first, then libvirt
         * refuses vCPU 7, and vCPU 0 gets its old pin back. */
        aff0 = affinity_of(tid0);
        act.vcpus = IDSET_EMPTY;
        idset_add(&act.vcpus, 0);
        idset_add(&act.vcpus, 7);
        act.cpus = IDSET_EMPTY;
        idset_add(&act.cpus, (int)sysconf(_SC_NPROCESSORS_ONLN) - 1);
        r = libvirt_actuator_apply(d, &act, NULL, &res, &err);
        ck_assert_int_lt(r, 0);
        note("pin of a vCPU the guest lacks: %s (%s)", strerror(-r), strna(err));
        ck_assert_uint_eq(res.threads_pinned, 0);
        free(after0);
        after0 = cgroup_cpus_of(m->pid, tid0);
        ck_assert_str_eq(after0, before0);
        free(aff);
        aff = affinity_of(tid0);
        ck_assert_str_eq(aff, aff0);

        /* Emulator pin, visible in virsh emulatorpin ("*: 0"). */
        act = (struct action){.type = ACTION_PIN_EMULATOR, .cell = -1};
        idset_add(&act.cpus, 0);
        ck_assert_msg(libvirt_actuator_apply(d, &act, m, &res, &err) == 0, "emulator pin: %s", strna(err));
        ck_assert_uint_ge(res.threads_pinned, 1);
        ck_assert_int_eq(virshf(NULL, "emulatorpin %s | grep -Eq '^ *\\*: +0 *$'", name), 0);

        /* Memory is not libvirt's job here. */
        act = (struct action){.type = ACTION_MIGRATE, .cell = 0};
        ck_assert_int_eq(libvirt_actuator_apply(d, &act, m, &res, NULL), -EOPNOTSUPP);

        qmp_client_free(TAKE_PTR(qmp));
        drop_domain(d);
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

START_TEST(test_reconnect_after_libvirtd_restart)
{
        char name[128], victim[128];
        virDomainPtr d;
        const struct event *down, *up, *gone;
        pid_t pid = libvirtd_pid(), qemu_pid, victim_pid;
        double killed, restarted;
        size_t mark;

        note("%s", __func__);
        ck_assert_int_gt(pid, 0);
        d = new_domain(conn, true, NULL, name, sizeof(name));
        ck_assert_int_eq(libvirt_read_pid(pid_dir, name, &qemu_pid), 0);
        virDomainFree(d); /* the handle dies with the connection; cleanup goes by name */
        d = new_domain(conn, true, NULL, victim, sizeof(victim));
        ck_assert_int_eq(libvirt_read_pid(pid_dir, victim, &victim_pid), 0);
        virDomainFree(d);
        virConnectClose(conn);
        conn = NULL;
        start_conn(500);
        ck_assert_uint_eq(libvirt_conn_generation(lc), 1);
        ck_assert_ptr_nonnull(find_event(rec, 0, "up", LIBVIRT_UP_DISCOVERED, victim));
        mark = rec->n;

        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        killed = now_s();
        down = wait_event(rec, mark, "disconnected", -1, NULL, WAIT_S);
        ck_assert_msg(down, "connection loss not noticed");
        ck_assert(!libvirt_conn_is_connected(lc));
        ck_assert_ptr_null(libvirt_conn_get(lc));
        note("disconnected after %.2f s: %s", down->at - killed, down->reason);
        ck_assert_str_eq(down->reason, "libvirtd closed the connection");

        /* Wait until that libvirtd is gone, let a reconnect attempt or two fail, then restart it. */
        loop_until(process_gone, &pid, WAIT_S);
        ck_assert_msg(process_gone(&pid), "libvirtd %d did not exit on SIGTERM", pid);
        /* One guest dies while nobody watches. */
        ck_assert_int_eq(kill(victim_pid, SIGKILL), 0);
        loop_until(process_gone, &victim_pid, WAIT_S);
        loop_for(1.2);
        ck_assert_uint_eq(libvirt_conn_generation(lc), 1);
        ck_assert(!libvirt_conn_is_connected(lc));
        ck_assert_uint_gt(libvirt_conn_retry_delay_ms(lc), 0);
        ck_assert_str_ne(libvirt_conn_last_error(lc), "libvirtd closed the connection"); /* a failed retry */
        /* The other guest outlives libvirtd. */
        ck_assert_int_eq(kill(qemu_pid, 0), 0);

        ck_assert_msg(run_cmd(start_cmd, NULL) == 0, "%s failed", start_cmd);
        restarted = now_s();
        struct wait_gen w = {lc, 2};
        loop_until(reconnected, &w, WAIT_S);
        ck_assert_msg(reconnected(&w), "no reconnect within %.0f s: %s", WAIT_S,
                      libvirt_conn_last_error(lc));
        note("reconnected %.2f s after the restart", now_s() - restarted);
        ck_assert_uint_eq(libvirt_conn_generation(lc), 2);
        /* Backoff is capped at 4 x 500 ms here. */
        ck_assert_double_lt(now_s() - restarted, 10.0);
        ck_assert_ptr_nonnull(find_event(rec, mark, "connected", -1, NULL));
        up = find_event(rec, mark, "up", LIBVIRT_UP_DISCOVERED, name);
        ck_assert_msg(up, "running domain not rediscovered after the reconnect");
        ck_assert_double_gt(up->at, killed);
        ck_assert_int_eq(up->pid, qemu_pid);
        /* It kept running: not reported down. */
        ck_assert_ptr_null(find_event(rec, mark, "down", -1, name));
        /* The one that died meanwhile is reported down: gone, if the new libvirtd had already
         * noticed when we listed the domains; else by its own stop event right after. */
        gone = wait_event(rec, mark, "down", -1, victim, WAIT_S);
        ck_assert_msg(gone, "the guest that died while libvirtd was down was not reported down");
        note("dead guest reported down: %s", libvirt_down_reason_to_string(gone->why));
        ck_assert_ptr_null(find_event(rec, (size_t)(gone - rec->ev) + 1, "up", -1, victim));

        /* The new connection works, events included. */
        mark = rec->n;
        conn = connect_or_fail();
        d = virDomainLookupByName(conn, name);
        ck_assert_ptr_nonnull(d);
        /* The new libvirtd may still hold the domain's job while it reconnects to its monitor
         * ("cannot acquire state change lock"): what this checks is the events, so retry. */
        for (double until = now_s() + WAIT_S; virDomainDestroy(d) != 0;) {
                const char *why = virGetLastErrorMessage();

                ck_assert_msg(now_s() < until, "virDomainDestroy after the restart: %s", why);
                note("destroy refused for now: %s", why);
                usleep(500 * 1000);
        }
        ck_assert_msg(wait_event(rec, mark, "down", LIBVIRT_DOWN_DESTROYED, name, WAIT_S),
                      "no destroyed event on the new connection");

        drop_domain(d);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("libvirt");
        TCase *tc = tcase_create("libvirtd");
        SRunner *sr;
        int failed;

        t_start = now_s();
        if (geteuid() != 0) {
                fprintf(stderr, "skip: needs root to run libvirtd for qemu:///system\n");
                return EXIT_SKIP;
        }
        const char *mode = getenv("VNUMAD_TEST_LIBVIRT");
        bool host = mode && streq(mode, "host");

        if (run_cmd(host ? "command -v libvirtd && command -v virtlogd && command -v virsh && "
                           "command -v qemu-system-x86_64 >/dev/null"
                         : "command -v libvirtd && command -v unshare && command -v virsh && "
                           "command -v qemu-system-x86_64 >/dev/null",
                    NULL) != 0) {
                fprintf(stderr, "skip: libvirtd, %s, virsh or qemu-system-x86_64 missing\n",
                        host ? "virtlogd" : "unshare");
                return EXIT_SKIP;
        }
        /* As in any libvirt client: a write to a connection libvirtd closed must fail, not kill us. */
        signal(SIGPIPE, SIG_IGN);
        libvirt_quiet_errors();
        /* Before any connection: keepalive and events need the loop from the start. */
        if (virEventRegisterDefaultImpl() < 0) {
                fprintf(stderr, "cannot register libvirt's event loop\n");
                return EXIT_FAILURE;
        }
        /* Wakes virEventRunDefaultImpl up regularly so waits check their deadlines. */
        if (virEventAddTimeout(50, wake_timer, NULL, NULL) < 0) {
                fprintf(stderr, "cannot add a timer to libvirt's event loop\n");
                return EXIT_FAILURE;
        }
        loop_ready = true;

        snprintf(test_prefix, sizeof(test_prefix), "vnumad-test-%d-", (int)getpid());
        atexit(cleanup_at_exit);
        if (host) {
                /* The other tests that restart the host's libvirtd hold this lock meanwhile. */
                int lock = open("/run/lock/vnumad-libvirt-tests.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);

                if (lock < 0 || flock(lock, LOCK_EX) < 0) {
                        fprintf(stderr, "cannot lock /run/lock/vnumad-libvirt-tests.lock: %m\n");
                        return EXIT_FAILURE;
                }
                use_host_libvirtd();
                if (!libvirtd_answers() && !start_libvirtd()) {
                        fprintf(stderr, "skip: the host's libvirtd did not start\n");
                        return EXIT_SKIP;
                }
        } else {
                if (!prepare_private_libvirtd()) {
                        fprintf(stderr, "cannot set up a directory for a private libvirtd: %m\n");
                        return EXIT_FAILURE;
                }
                if (!start_libvirtd()) {
                        fprintf(stderr, "a private libvirtd (%s) did not start or does not answer at %s\n",
                                start_cmd, uri);
                        return EXIT_FAILURE;
                }
        }
        note("libvirtd %d at %s", (int)libvirtd_pid(), uri);

        tcase_set_timeout(tc, 120);
        tcase_add_checked_fixture(tc, setup, teardown);
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
        note("done, %d failed", failed);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
