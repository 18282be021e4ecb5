/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* An enum's names from one table, in the spirit of systemd's DEFINE_STRING_TABLE_LOOKUP. With
 *
 *     static const char *const NAME_table[_NAME_MAX] = {[VALUE] = "name", ...};
 *
 * DEFINE_STRING_TABLE_LOOKUP_TO_STRING(NAME, TYPE) defines
 *     const char *NAME_to_string(TYPE v): the name, NULL out of range (negative too) or for a hole;
 * DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(NAME) defines
 *     int NAME_from_string(const char *s): the value, -EINVAL for NULL or a name not in the table;
 * DEFINE_STRING_TABLE_LOOKUP(NAME, TYPE) defines both. Declare them in the public header. */

#include <errno.h>
#include <stddef.h>

#include "vnuma/basic/macro.h"

#define DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type)             \
        const char *name##_to_string(type v)                         \
        {                                                            \
                /* One compare for both ends: a negative v wraps. */ \
                if ((size_t)v >= ELEMENTSOF(name##_table))           \
                        return NULL;                                 \
                return name##_table[v];                              \
        }

#define DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name)                      \
        int name##_from_string(const char *s)                             \
        {                                                                 \
                if (!s)                                                   \
                        return -EINVAL;                                   \
                for (size_t i = 0; i < ELEMENTSOF(name##_table); i++)     \
                        if (name##_table[i] && streq(name##_table[i], s)) \
                                return (int)i;                            \
                return -EINVAL;                                           \
        }

#define DEFINE_STRING_TABLE_LOOKUP(name, type)           \
        DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type) \
        DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name)
