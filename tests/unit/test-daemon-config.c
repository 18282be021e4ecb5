/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <syslog.h>

#include "test-util.h"
#include "vnuma/config/daemon-config.h"

static char *data_path(const char *rel)
{
        char *p;

        ck_assert_int_eq(path_join_root(getenv("VNUMA_TEST_DATA"), rel, &p), 0);
        return p;
}

START_TEST(test_full_file_and_dropins)
{
        _cleanup_free_ char *path = data_path("config/good/vnumad.conf"), *error = NULL;
        _cleanup_(daemon_config_freep) struct daemon_config *c = NULL;
        struct vm_policy p;

        ck_assert_int_eq(daemon_config_load(path, NULL, &c, &error), 0);
        ck_assert_ptr_null(error);
        /* conf.d overrides in lexical order: 10- sets 500ms, 20- sets dry-run. */
        ck_assert_uint_eq(c->period_ms, 500);
        ck_assert(c->dry_run);
        ck_assert_str_eq(c->socket_path, "/run/vnumad/test.sock");
        ck_assert_str_eq(c->read_group, "root");
        ck_assert_uint_eq(c->read_gid, 0); /* resolved while loading */
        ck_assert_uint_eq(c->control_idle_timeout_ms, 5000);
        ck_assert_uint_eq(c->control_max_clients, 16);
        ck_assert_uint_eq(c->control_max_clients_user, 4);
        ck_assert_int_eq(c->log_level, LOG_DEBUG);
        ck_assert_uint_eq(c->n_qmp_sockets, 2);
        ck_assert_str_eq(c->qmp_sockets[1], "/run/qemu/b.qmp");
        ck_assert_str_eq(c->qmp_dir, "/run/vnumad/qmp.d");
        ck_assert_uint_eq(c->query_timeout_ms, 3000);
        ck_assert_int_eq(c->default_policy.mode, VM_POLICY_AUTO);
        ck_assert_uint_eq(c->default_policy.migrate_rate, 128ull << 20);
        ck_assert_uint_eq(c->host_migrate_rate, 2ull << 30);
        ck_assert_uint_eq(c->imbalance_pct, 110);
        ck_assert_uint_eq(c->hysteresis_periods, 4);
        ck_assert_str_eq(c->sampler, "residency");
        ck_assert_uint_eq(c->scan_window, 64ull << 20);
        /* 30-libvirt.conf */
        ck_assert(!c->libvirt_enabled);
        ck_assert_str_eq(c->libvirt_uri, "qemu+ssh://root@host1/system");

        /* [vm web1] came before [policy]: it still inherits the rate set later. */
        daemon_config_policy_for(c, "web1", &p);
        ck_assert_int_eq(p.mode, VM_POLICY_STRICT);
        ck_assert(idset_test(&p.nodes, 1) && idset_count(&p.nodes) == 1);
        ck_assert_uint_eq(p.migrate_rate, 128ull << 20);
        daemon_config_policy_for(c, "db", &p);
        ck_assert_int_eq(p.mode, VM_POLICY_OBSERVE);
        daemon_config_policy_for(c, "other", &p);
        ck_assert_int_eq(p.mode, VM_POLICY_AUTO);
        ck_assert(idset_is_empty(&p.nodes));
}
END_TEST

START_TEST(test_defaults)
{
        _cleanup_(daemon_config_freep) struct daemon_config *c = NULL;

        ck_assert_int_eq(daemon_config_new(&c), 0);
        ck_assert_uint_eq(c->period_ms, 1000);
        ck_assert(!c->dry_run);
        ck_assert_str_eq(c->socket_path, "/run/vnumad/vnumad.sock");
        ck_assert_ptr_null(c->read_group);
        ck_assert_uint_eq(c->control_idle_timeout_ms, 30000);
        ck_assert_uint_eq(c->control_max_clients, 32);
        ck_assert_uint_eq(c->control_max_clients_user, 8);
        ck_assert_int_eq(c->default_policy.mode, VM_POLICY_AUTO);
        ck_assert_uint_eq(c->n_qmp_sockets, 0);
        ck_assert_uint_eq(c->query_timeout_ms, 10000);
        ck_assert(c->libvirt_enabled);
        ck_assert_ptr_null(c->libvirt_uri); /* qemu:///system */
}
END_TEST

static void expect_error(const char *rel, const char *want)
{
        _cleanup_free_ char *path = data_path(rel), *error = NULL, *expect = NULL;
        struct daemon_config *c = (struct daemon_config *)0x1;

        ck_assert_int_lt(daemon_config_load(path, "/nonexistent", &c, &error), 0);
        ck_assert_ptr_eq(c, (struct daemon_config *)0x1);
        ck_assert_ptr_nonnull(error);
        ck_assert_int_ge(asprintf(&expect, "%s:%s", path, want), 0);
        ck_assert_msg(startswith(error, expect), "got \"%s\", want prefix \"%s\"", error, expect);
}

START_TEST(test_errors_name_file_and_line)
{
        expect_error("config/bad/bad-mode.conf", "5: [policy] mode: unknown mode \"sometimes\"");
        expect_error("config/bad/unknown-key.conf", "3: unknown key \"colour\" in [daemon]");
        expect_error("config/bad/bad-period.conf", "2: [daemon] period: invalid duration \"fast\"");
        expect_error("config/bad/bad-query-timeout.conf",
                     "2: [qmp] query-timeout: invalid duration \"10ms\" (100ms to 5min)");
        expect_error("config/bad/bad-nodes.conf", "2: [policy] nodes: invalid node list \"0-\"");
        expect_error("config/bad/unknown-section.conf", "4: unknown section [sound]");
        expect_error("config/bad/syntax.conf", "2: syntax error");
        expect_error("config/bad/relative-socket.conf",
                     "2: [qmp] socket: \"relative/path.sock\" is not an absolute");
        expect_error("config/bad/vm-no-name.conf", "2: [vm] section needs a VM name");
        expect_error("config/bad/bad-libvirt-uri.conf", "2: [libvirt] uri: \"qemu\" is not a libvirt URI");
        expect_error("config/bad/bad-libvirt-enabled.conf",
                     "2: [libvirt] enabled: expected yes or no, got \"maybe\"");
        expect_error("config/bad/unknown-read-group.conf",
                     "2: [daemon] read-group: unknown group \"no-such-group-vnumad\"");
        expect_error("config/bad/bad-control-max-clients.conf",
                     "2: [daemon] control-max-clients: expected 2-1024, got \"1\"");
        expect_error("config/bad/bad-control-idle-timeout.conf",
                     "2: [daemon] control-idle-timeout: invalid duration \"0\" (100ms to 1h)");
}
END_TEST

START_TEST(test_missing_explicit_file)
{
        _cleanup_free_ char *error = NULL;
        struct daemon_config *c = NULL;

        ck_assert_int_eq(daemon_config_load("/nonexistent/vnumad.conf", NULL, &c, &error), -ENOENT);
        ck_assert_ptr_nonnull(error);
        ck_assert(startswith(error, "/nonexistent/vnumad.conf: "));
}
END_TEST

START_TEST(test_value_parsers)
{
        uint64_t ms = 0;
        bool b = false;

        ck_assert_int_eq(parse_duration_ms("250ms", &ms), 0);
        ck_assert_uint_eq(ms, 250);
        ck_assert_int_eq(parse_duration_ms("2s", &ms), 0);
        ck_assert_uint_eq(ms, 2000);
        ck_assert_int_eq(parse_duration_ms("1min", &ms), 0);
        ck_assert_uint_eq(ms, 60000);
        ck_assert_int_eq(parse_duration_ms("7", &ms), 0);
        ck_assert_uint_eq(ms, 7);
        ck_assert_int_eq(parse_duration_ms("2h", &ms), -EINVAL);
        ck_assert_int_eq(parse_duration_ms("", &ms), -EINVAL);
        ck_assert_int_eq(parse_boolean("Yes", &b), 0);
        ck_assert(b);
        ck_assert_int_eq(parse_boolean("off", &b), 0);
        ck_assert(!b);
        ck_assert_int_eq(parse_boolean("maybe", &b), -EINVAL);
}
END_TEST

TEST_MAIN("daemon-config", test_full_file_and_dropins, test_defaults, test_errors_name_file_and_line,
          test_missing_explicit_file, test_value_parsers)
