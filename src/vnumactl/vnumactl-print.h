/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* vnumactl's output shared by its verbs (vnumactl-print.c). */

#include <json-c/json.h>

/* The document as pretty JSON. */
void print_doc(struct json_object *doc);
/* Each entry of doc's "errors" as a warning on stderr, "WHAT: MESSAGE". Returns how many. */
size_t print_errors(struct json_object *doc);
/* A policy get document (from libvirt or from the daemon: one shape) as text. */
void print_policy_get(struct json_object *doc);
/* Tables for every domain of a show document. */
void print_show_tables(struct json_object *doc);
/* From here on, stdout never carries a terminal control: what vnumactl prints quotes QEMU's and
 * clients' strings (names, errors), so C0 controls but tab and newline, DEL and UTF-8 C1 become
 * '?'. -errno if the filter cannot be set up (stdout stays as it was). */
int print_filter_stdout(void);
