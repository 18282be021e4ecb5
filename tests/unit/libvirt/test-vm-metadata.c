/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The <vnumad:policy> metadata element: parser, validation against host and guest, writer. */
#include <check.h>

#include "../test-util.h"
#include "vnuma/libvirt/vm-metadata.h"

static struct idset host2(void)
{
        struct idset s = IDSET_EMPTY;

        idset_add(&s, 0);
        idset_add(&s, 1);
        return s;
}

/* Parses text against a 2-node host and a 2-cell guest; returns r and leaves the message in *err. */
static int parse2(const char *text, struct vm_policy *p, char **err)
{
        struct idset host = host2();
        struct vm_metadata_limits lim = {.host_nodes = &host, .guest_cells = 2};

        return vm_metadata_parse(text, &lim, p, err);
}

static void expect_error(const char *text, const char *message)
{
        _cleanup_free_ char *err = NULL;
        struct vm_policy p, untouched;

        memset(&p, 0x5a, sizeof(p));
        untouched = p;
        ck_assert_int_eq(parse2(text, &p, &err), -EINVAL);
        ck_assert_ptr_nonnull(err);
        ck_assert_msg(startswith(err, message), "for %s: got \"%s\", want \"%s...\"", text, err, message);
        ck_assert_msg(memcmp(&p, &untouched, sizeof(p)) == 0, "output written on failure");
}

START_TEST(test_full_fixture)
{
        _cleanup_free_ char *text = test_read_fixture("metadata/full.xml");
        _cleanup_free_ char *err = NULL;
        struct vm_policy p;

        ck_assert_int_eq(parse2(text, &p, &err), 0);
        ck_assert_ptr_null(err);
        ck_assert_int_eq(p.mode, VM_POLICY_AUTO);
        ck_assert_int_eq(p.pin, VM_PIN_VCPUS);
        ck_assert_uint_eq(p.migrate_rate, 256u << 20);
        ck_assert_int_eq(idset_count(&p.nodes), 2);
        ck_assert_uint_eq(p.n_cell_nodes, 2);
        ck_assert(idset_test(vm_policy_cell_nodes(&p, 0), 1));
        ck_assert(!idset_test(vm_policy_cell_nodes(&p, 0), 0));
        ck_assert(idset_test(vm_policy_cell_nodes(&p, 1), 0));
        ck_assert_ptr_null(vm_policy_cell_nodes(&p, 2));
}
END_TEST

START_TEST(test_plain_no_namespace)
{
        _cleanup_free_ char *text = test_read_fixture("metadata/plain.xml");
        struct vm_policy p;

        ck_assert_int_eq(parse2(text, &p, NULL), 0);
        ck_assert_int_eq(p.mode, VM_POLICY_STRICT);
        ck_assert_int_eq(p.pin, VM_PIN_NONE);
        ck_assert_int_eq(idset_count(&p.nodes), 1);
        ck_assert(idset_test(&p.nodes, 1));
        ck_assert_uint_eq(p.migrate_rate, 0);
        ck_assert_uint_eq(p.n_cell_nodes, 0);
}
END_TEST

START_TEST(test_defaults)
{
        struct vm_policy p, d;

        ck_assert_int_eq(parse2("<policy/>", &p, NULL), 0);
        vm_policy_init(&d);
        ck_assert_int_eq(p.mode, d.mode);
        ck_assert_int_eq(p.pin, d.pin);
        ck_assert(idset_is_empty(&p.nodes));
        ck_assert_int_eq(parse2("<policy mode=\"off\" nodes=\"\"/>", &p, NULL), 0);
        ck_assert_int_eq(p.mode, VM_POLICY_OFF);
        ck_assert(idset_is_empty(&p.nodes));
}
END_TEST

START_TEST(test_every_mode)
{
        static const char *const modes[] = {"auto", "strict", "preferred", "interleave", "observe", "off"};

        for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
                _cleanup_free_ char *text = NULL;
                struct vm_policy p;

                ck_assert_int_ge(asprintf(&text, "<policy mode=\"%s\"/>", modes[i]), 0);
                ck_assert_int_eq(parse2(text, &p, NULL), 0);
                ck_assert_str_eq(vm_policy_mode_to_string(p.mode), modes[i]);
        }
}
END_TEST

START_TEST(test_documented_errors)
{
        _cleanup_free_ char *bad_mode = test_read_fixture("metadata/bad-mode.xml");
        _cleanup_free_ char *bad_nodes = test_read_fixture("metadata/bad-nodeset.xml");
        _cleanup_free_ char *not_host = test_read_fixture("metadata/node-not-on-host.xml");
        _cleanup_free_ char *malformed = test_read_fixture("metadata/malformed.xml");
        _cleanup_free_ char *no_cell = test_read_fixture("metadata/cell-not-in-guest.xml");

        expect_error(bad_mode, "mode=\"sometimes\": unknown mode");
        expect_error(bad_nodes, "nodes=\"0-\": invalid node list");
        expect_error(not_host, "nodes=\"7\": host has no node 7");
        expect_error(malformed, "malformed XML at line 1: ");
        expect_error(no_cell, "cell id=\"5\": guest has no cell 5");
}
END_TEST

START_TEST(test_other_errors)
{
        expect_error("", "malformed XML at line 1: empty document");
        expect_error("<policy mode=\"auto\"/><policy/>", "malformed XML at line 1: ");
        expect_error("<policy>\n<cell id=\"0\" nodes=\"1\">\n</policy>", "malformed XML at line 3: ");
        expect_error("<numatune/>", "<numatune>: not a vnumad policy element");
        expect_error("<x:policy xmlns:x=\"urn:other\"/>", "<policy>: not a vnumad policy element");
        expect_error("<policy pin=\"some\"/>", "pin=\"some\": unknown pin mode");
        expect_error("<policy migrate-rate=\"fast\"/>", "migrate-rate=\"fast\": invalid size");
        expect_error("<policy colour=\"red\"/>", "colour=\"red\": unknown attribute");
        expect_error("<policy mode=\"\"/>", "mode=\"\": unknown mode");
        expect_error("<policy nodes=\"1-0\"/>", "nodes=\"1-0\": invalid node list");
        expect_error("<policy nodes=\"0,99999\"/>", "nodes=\"0,99999\": invalid node list");
        expect_error("<policy><cell nodes=\"0\"/></policy>", "cell: missing attribute id");
        expect_error("<policy><cell id=\"-1\" nodes=\"0\"/></policy>", "cell id=\"-1\": invalid cell id");
        expect_error("<policy><cell id=\"0\"/></policy>", "cell id=\"0\": missing attribute nodes");
        expect_error("<policy><cell id=\"0\" nodes=\"3\"/></policy>",
                     "cell 0 nodes=\"3\": host has no node 3");
        expect_error("<policy><cell id=\"0\" nodes=\"\"/></policy>", "cell 0 nodes=\"\": empty node list");
        expect_error("<policy><cell id=\"1\" nodes=\"0\"/><cell id=\"1\" nodes=\"1\"/></policy>",
                     "cell id=\"1\": cell listed twice");
        expect_error("<policy nodes=\"0\"><cell id=\"1\" nodes=\"1\"/></policy>",
                     "cell id=\"1\": node 1 is outside nodes");
        expect_error("<policy><numa/></policy>", "<numa>: unexpected content");
        expect_error("<policy>text</policy>", "<text>: unexpected content");
}
END_TEST

START_TEST(test_limits_skipped)
{
        struct vm_metadata_limits none = {.host_nodes = NULL, .guest_cells = -1};
        struct vm_policy p;

        ck_assert_int_eq(vm_metadata_parse("<policy nodes=\"7\"><cell id=\"9\" nodes=\"7\"/></policy>",
                                           &none, &p, NULL),
                         0);
        ck_assert(idset_test(&p.nodes, 7));
        ck_assert(idset_test(vm_policy_cell_nodes(&p, 9), 7));
        ck_assert_int_eq(vm_metadata_parse("<policy nodes=\"7\"/>", NULL, &p, NULL), 0);
}
END_TEST

START_TEST(test_no_entity_expansion_or_network)
{
        struct vm_policy p;
        _cleanup_free_ char *err = NULL;

        /* Internal entities expand as XML says; external ones are never loaded (no NOENT). */
        ck_assert_int_eq(parse2("<!DOCTYPE p [<!ENTITY m \"auto\">]><policy mode=\"&m;\"/>", &p, NULL), 0);
        ck_assert_int_eq(p.mode, VM_POLICY_AUTO);
        ck_assert_int_eq(
                parse2("<!DOCTYPE p [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><policy>&x;</policy>", &p,
                       &err),
                -EINVAL);
        ck_assert_str_eq(err, "<text>: unexpected content in <policy>");
        /* An external DTD is not fetched; the element itself still parses. */
        ck_assert_int_eq(
                parse2("<!DOCTYPE p SYSTEM \"http://192.0.2.1/x.dtd\"><policy mode=\"off\"/>", &p, NULL), 0);
        ck_assert_int_eq(p.mode, VM_POLICY_OFF);
}
END_TEST

static void round_trip(const struct vm_policy *in)
{
        _cleanup_free_ char *xml = NULL, *again = NULL, *err = NULL;
        struct vm_policy out;

        ck_assert_int_eq(vm_metadata_format(in, &xml), 0);
        ck_assert_msg(parse2(xml, &out, &err) == 0, "%s: %s", xml, strna(err));
        ck_assert_int_eq(out.mode, in->mode);
        ck_assert_int_eq(out.pin, in->pin);
        ck_assert(idset_equal(&out.nodes, &in->nodes));
        ck_assert_uint_eq(out.migrate_rate, in->migrate_rate);
        ck_assert_uint_eq(out.n_cell_nodes, in->n_cell_nodes);
        for (unsigned i = 0; i < in->n_cell_nodes; i++) {
                ck_assert_uint_eq(out.cell_nodes[i].cell, in->cell_nodes[i].cell);
                ck_assert(idset_equal(&out.cell_nodes[i].nodes, &in->cell_nodes[i].nodes));
        }
        ck_assert_int_eq(vm_metadata_format(&out, &again), 0);
        ck_assert_str_eq(again, xml);
}

START_TEST(test_writer_and_round_trip)
{
        _cleanup_free_ char *xml = NULL;
        struct vm_policy p;

        vm_policy_init(&p);
        ck_assert_int_eq(vm_metadata_format(&p, &xml), 0);
        ck_assert_str_eq(xml, "<policy mode=\"auto\" pin=\"vcpus\"/>");
        round_trip(&p);

        p.mode = VM_POLICY_INTERLEAVE;
        p.pin = VM_PIN_NONE;
        idset_add(&p.nodes, 0);
        idset_add(&p.nodes, 1);
        p.migrate_rate = 256u << 20;
        p.n_cell_nodes = 2;
        p.cell_nodes[0] = (struct vm_cell_nodes){.cell = 1, .nodes = IDSET_EMPTY};
        idset_add(&p.cell_nodes[0].nodes, 0);
        p.cell_nodes[1] = (struct vm_cell_nodes){.cell = 0, .nodes = IDSET_EMPTY};
        idset_add(&p.cell_nodes[1].nodes, 0);
        idset_add(&p.cell_nodes[1].nodes, 1);
        free(xml);
        xml = NULL;
        ck_assert_int_eq(vm_metadata_format(&p, &xml), 0);
        ck_assert_str_eq(xml,
                         "<policy mode=\"interleave\" nodes=\"0-1\" pin=\"none\" migrate-rate=\"256MiB\">"
                         "<cell id=\"1\" nodes=\"0\"/><cell id=\"0\" nodes=\"0-1\"/></policy>");
        round_trip(&p);

        p.migrate_rate = 1000; /* not a whole KiB: plain bytes */
        round_trip(&p);
        p.migrate_rate = 3u << 30;
        round_trip(&p);
}
END_TEST

START_TEST(test_writer_rejects)
{
        char *xml = NULL;
        struct vm_policy p;

        vm_policy_init(&p);
        p.mode = _VM_POLICY_MODE_MAX;
        ck_assert_int_eq(vm_metadata_format(&p, &xml), -EINVAL);
        vm_policy_init(&p);
        p.n_cell_nodes = VM_POLICY_CELLS_MAX + 1;
        ck_assert_int_eq(vm_metadata_format(&p, &xml), -EINVAL);
        ck_assert_ptr_null(xml);
}
END_TEST

TEST_MAIN("vm-metadata", test_full_fixture, test_plain_no_namespace, test_defaults, test_every_mode,
          test_documented_errors, test_other_errors, test_limits_skipped,
          test_no_entity_expansion_or_network, test_writer_and_round_trip, test_writer_rejects)
