/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* vnumactl's output shared by its verbs (vnumactl-print.c). */

#include <json-c/json.h>

/* The document as pretty JSON. */
void print_doc(struct json_object *doc);
/* Tables for every domain of a show document. */
void print_show_tables(struct json_object *doc);
