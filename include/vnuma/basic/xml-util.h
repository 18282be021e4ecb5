/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Cleanup helpers for libxml2 documents. */

#include <libxml/tree.h>

static inline void xml_doc_freep(xmlDocPtr *p)
{
        if (*p)
                xmlFreeDoc(*p);
}
