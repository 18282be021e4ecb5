/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt error -> -errno mapping and the quiet error handler. */

#include "vnuma/libvirt/libvirt-error.h"

#include "vnuma/basic/macro.h"

static void quiet_handler(void *userdata, virErrorPtr error)
{
        /* Nothing: the caller reads virGetLastError and logs once, with context. */
}

void libvirt_quiet_errors(void)
{
        virSetErrorFunc(NULL, quiet_handler);
}

void libvirt_quiet_conn_errors(virConnectPtr conn)
{
        if (conn)
                virConnSetErrorFunc(conn, NULL, quiet_handler);
}

int libvirt_error_to_errno(const virError *e)
{
        if (!e)
                return -EIO;

        switch (e->code) {
        case VIR_ERR_NO_MEMORY:
                return -ENOMEM;
        case VIR_ERR_NO_DOMAIN:
                return -ENOENT;
        case VIR_ERR_NO_DOMAIN_METADATA:
                return -ENODATA;
        case VIR_ERR_DOM_EXIST:
                return -EEXIST;
        case VIR_ERR_INVALID_ARG:
        case VIR_ERR_INVALID_DOMAIN:
        case VIR_ERR_XML_ERROR:
        case VIR_ERR_XML_DETAIL:
        case VIR_ERR_OPERATION_INVALID:
                return -EINVAL;
        case VIR_ERR_NO_SUPPORT:
        case VIR_ERR_OPERATION_UNSUPPORTED:
        case VIR_ERR_ARGUMENT_UNSUPPORTED:
        case VIR_ERR_CONFIG_UNSUPPORTED:
                return -EOPNOTSUPP;
        case VIR_ERR_OPERATION_DENIED:
        case VIR_ERR_ACCESS_DENIED:
        case VIR_ERR_AUTH_FAILED:
        case VIR_ERR_AUTH_CANCELLED:
        case VIR_ERR_AUTH_UNAVAILABLE:
                return -EACCES;
        case VIR_ERR_OPERATION_TIMEOUT:
        case VIR_ERR_AGENT_UNRESPONSIVE:
                return -ETIMEDOUT;
        case VIR_ERR_NO_CONNECT:
        case VIR_ERR_INVALID_CONN:
        case VIR_ERR_RPC:
        case VIR_ERR_NO_SERVER:
                return -ECONNRESET;
        case VIR_ERR_SYSTEM_ERROR:
                /* virReportSystemError keeps the errno in int1. */
                return e->int1 > 0 ? -e->int1 : -EIO;
        default:
                return -EIO;
        }
}

int libvirt_last_error(char **ret_message)
{
        virErrorPtr e = virGetLastError();
        int r = libvirt_error_to_errno(e);

        if (ret_message) {
                char *m = strdup(e && e->message ? e->message : "unknown libvirt error");

                if (m) {
                        free(*ret_message);
                        *ret_message = m;
                }
        }
        virResetLastError();
        return r;
}
