/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sampler's issues: what went wrong this period, per VM or for the host, kept for the
 * caller and logged at debug level. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "sampler-internal.h"
#include "vnuma/basic/log.h"
#include "vnuma/basic/string-table.h"

static const char *const sampler_issue_kind_table[_SAMPLER_ISSUE_KIND_MAX] = {
        [SAMPLER_ISSUE_GONE] = "gone",
        [SAMPLER_ISSUE_STALE] = "stale",
        [SAMPLER_ISSUE_FAILED] = "failed",
        [SAMPLER_ISSUE_HINTING] = "hinting",
        [SAMPLER_ISSUE_SOFT_DIRTY] = "soft-dirty",
        [SAMPLER_ISSUE_DAMON] = "damon",
        [SAMPLER_ISSUE_HOST] = "host",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(sampler_issue_kind, enum sampler_issue_kind);

int sampler_add_issue(struct sampler *s, uint64_t vm_id, enum sampler_issue_kind kind, int error,
                      const char *fmt, ...)
{
        struct sampler_issue *is;
        va_list ap;

        if (s->n_issues == s->alloc_issues) {
                size_t n = s->alloc_issues ? s->alloc_issues * 2 : 8;
                struct sampler_issue *p = realloc(s->issues, n * sizeof(*p));

                if (!p)
                        return -ENOMEM;
                s->issues = p;
                s->alloc_issues = n;
        }
        is = &s->issues[s->n_issues++];
        *is = (struct sampler_issue){.vm_id = vm_id, .kind = kind, .error = error};
        va_start(ap, fmt);
        (void)vsnprintf(is->message, sizeof(is->message), fmt, ap);
        va_end(ap);
        log_debug("sampler: vm %llu: %s: %s", (unsigned long long)vm_id, sampler_issue_kind_table[kind],
                  is->message);
        return 0;
}

size_t sampler_issues(const struct sampler *s, const struct sampler_issue **ret)
{
        *ret = s->issues;
        return s->n_issues;
}
