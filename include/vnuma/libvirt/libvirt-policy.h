/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A domain's vnumad policy through libvirt: the <vnumad:policy> metadata element (read, write,
 * remove), and the "operator pinned it in the XML" rule for domains without one. */

#include <libvirt/libvirt.h>

#include "vnuma/libvirt/vm-metadata.h"

enum libvirt_policy_source {
        LIBVIRT_POLICY_METADATA, /* from our metadata element */
        LIBVIRT_POLICY_XML_PINS, /* no metadata, explicit vcpupin/emulatorpin/iothreadpin/numatune: observe
                                  */
        LIBVIRT_POLICY_DEFAULT,  /* no metadata: the daemon's configured default applies */
        _LIBVIRT_POLICY_SOURCE_MAX,
};

/* "metadata", "libvirt XML pins", "default". */
const char *libvirt_policy_source_to_string(enum libvirt_policy_source s);

/* A domain by name, UUID or numeric id. -ENOENT if there is none. */
int libvirt_domain_lookup(virConnectPtr conn, const char *domain, virDomainPtr *ret);

/* Writes p as the metadata element (virDomainSetMetadata, VIR_DOMAIN_METADATA_ELEMENT, key
 * VM_METADATA_KEY, VM_METADATA_URI). flags: VIR_DOMAIN_AFFECT_CURRENT/LIVE/CONFIG. */
int libvirt_policy_set(virConnectPtr conn, const char *domain, const struct vm_policy *p, unsigned flags,
                       char **ret_error);
/* Removes the element. 0 also when there was none. */
int libvirt_policy_clear(virConnectPtr conn, const char *domain, unsigned flags, char **ret_error);

/* Reads the element. -ENODATA if the domain has none. On a metadata element that does not
 * validate: -EINVAL with the parser's message. limits may be NULL. If ret_xml is non-NULL it
 * gets the raw element text (also on -EINVAL, for `vnumactl policy get` to show). */
int libvirt_policy_get_dom(virDomainPtr dom, unsigned flags, const struct vm_metadata_limits *limits,
                           struct vm_policy *ret, char **ret_xml, char **ret_error);
int libvirt_policy_get(virConnectPtr conn, const char *domain, unsigned flags,
                       const struct vm_metadata_limits *limits, struct vm_policy *ret, char **ret_xml,
                       char **ret_error);

/* The effective policy of a domain for the daemon: metadata if present (an invalid one is
 * -EINVAL with the message: log it, show it, leave the VM untouched); otherwise observe if the
 * persistent XML pins anything (the operator's intent wins; the live XML is not used because our
 * own live pins show up there), otherwise LIBVIRT_POLICY_DEFAULT with *ret = vm_policy_init.
 * A transient domain has only the live XML: there only <numatune> counts (vnumad never changes
 * it), not <cputune> pins, which may be vnumad's own. */
int libvirt_policy_resolve(virDomainPtr dom, const struct vm_metadata_limits *limits, struct vm_policy *ret,
                           enum libvirt_policy_source *ret_source, char **ret_error);

/* Whether domain XML has explicit placement: <cputune> vcpupin, emulatorpin or iothreadpin, or
 * <numatune> other than placement='auto' (libvirt_xml_auto_placement). 1 yes (with *ret_what naming the
 * first element, if non-NULL), 0 no, -EINVAL on XML that does not parse. */
int libvirt_xml_has_pins(const char *domain_xml, char **ret_what);

/* 1 when domain XML's <numatune> is only <memory placement='auto'/> (libvirt takes the nodeset
 * from numad -w, which vnumad's advise can answer), 0 otherwise, -EINVAL on XML that does not parse. */
int libvirt_xml_auto_placement(const char *domain_xml);
/* The nodeset libvirt started a running domain on (virDomainGetNumaParameters, numa_nodeset: for
 * placement='auto', numad's answer). 0 with *ret empty when there is none. */
int libvirt_domain_numa_nodeset(virDomainPtr dom, struct idset *ret);

/* Guest NUMA cells of domain XML (<cpu><numa><cell>), 0 without any. -EINVAL on XML that does not
 * parse. The _domain form reads the persistent XML with VIR_DOMAIN_AFFECT_CONFIG in flags, else
 * the current one. */
int libvirt_xml_guest_cells(const char *domain_xml, int *ret);
int libvirt_domain_guest_cells(virDomainPtr dom, unsigned flags, int *ret);
