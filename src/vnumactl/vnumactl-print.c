/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumactl's output shared by its verbs: a JSON document as is, and a show document as tables. */
#include "vnumactl-print.h"

#include <stdio.h>

#include "vnuma/basic/json-util.h"
#include "vnuma/report/show.h"

void print_doc(struct json_object *doc)
{
        printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
}

void print_show_tables(struct json_object *doc)
{
        struct json_object *host = NULL, *domains = NULL;

        json_member_object(doc, "host", &host);
        json_member_array(doc, "domains", &domains);
        for (size_t i = 0; domains && i < json_object_array_length(domains); i++) {
                show_table_domain(stdout, json_object_array_get_idx(domains, i), host);
                fputc('\n', stdout);
        }
}
