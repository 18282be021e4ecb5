/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The names of libvirt's domain events and of a policy's source: both ends of each table, and
 * NULL past them (DEFINE_STRING_TABLE_LOOKUP_TO_STRING). */
#include <check.h>

#include "../test-util.h"
#include "vnuma/libvirt/libvirt-conn.h"
#include "vnuma/libvirt/libvirt-policy.h"

START_TEST(test_event_names)
{
        ck_assert_str_eq(libvirt_up_reason_to_string(LIBVIRT_UP_DISCOVERED), "discovered");
        ck_assert_str_eq(libvirt_up_reason_to_string(LIBVIRT_UP_RESTORED), "restored");
        ck_assert_ptr_null(libvirt_up_reason_to_string(_LIBVIRT_UP_REASON_MAX));
        ck_assert_ptr_null(libvirt_up_reason_to_string((enum libvirt_up_reason)(-1)));

        ck_assert_str_eq(libvirt_down_reason_to_string(LIBVIRT_DOWN_SHUTDOWN), "shutdown");
        ck_assert_str_eq(libvirt_down_reason_to_string(LIBVIRT_DOWN_OTHER), "other");
        ck_assert_ptr_null(libvirt_down_reason_to_string(_LIBVIRT_DOWN_REASON_MAX));

        ck_assert_str_eq(libvirt_change_to_string(LIBVIRT_CHANGE_SUSPENDED), "suspended");
        ck_assert_str_eq(libvirt_change_to_string(LIBVIRT_CHANGE_TUNABLE), "tunable");
        ck_assert_ptr_null(libvirt_change_to_string(_LIBVIRT_CHANGE_MAX));
}
END_TEST

START_TEST(test_policy_source_names)
{
        ck_assert_str_eq(libvirt_policy_source_to_string(LIBVIRT_POLICY_METADATA), "metadata");
        ck_assert_str_eq(libvirt_policy_source_to_string(LIBVIRT_POLICY_XML_PINS), "libvirt XML pins");
        ck_assert_str_eq(libvirt_policy_source_to_string(LIBVIRT_POLICY_DEFAULT), "default");
        ck_assert_ptr_null(libvirt_policy_source_to_string(_LIBVIRT_POLICY_SOURCE_MAX));
        ck_assert_ptr_null(libvirt_policy_source_to_string((enum libvirt_policy_source)(-1)));
}
END_TEST

TEST_MAIN("libvirt-names", test_event_names, test_policy_source_names)
