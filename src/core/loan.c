/*
 * loan.c - the zero-copy calls (ipcx_loan/commit, ipcx_recv_view/release). A transport
 * that can lend memory in place (shm) provides them; for every other scheme the core lends
 * a buffer owned by the channel and sends or receives it with one copy, so code written
 * against these calls works on any URL.
 */
#include "ipcx_int.h"

#include <stdlib.h>

/* Grow *buf to at least need bytes (need may be 0). */
static int
loan_grow(unsigned char **buf, size_t *cap, size_t need)
{
	unsigned char *nb;
	size_t ncap;

	if (*buf != NULL && *cap >= need) {
		return 0;
	}
	ncap = need < 4096 ? 4096 : need;
	if ((nb = malloc(ncap)) == NULL) {
		return IPCX_ENOMEM;
	}
	free(*buf);
	*buf = nb;
	*cap = ncap;
	return 0;
}

IPCX_API size_t
ipcx_loan_max(ipcx_chan *c)
{
	if (c == NULL) {
		return 0;
	}
	if (c->tp->loan_max != NULL) {
		return c->tp->loan_max(c);
	}
	return c->max_msg;
}

IPCX_API int
ipcx_loan(ipcx_chan *c, size_t size, void **ptr, int timeout_ms)
{
	int rv;

	if (c == NULL || ptr == NULL) {
		return IPCX_EINVAL;
	}
	*ptr = NULL;
	if (c->loaned) {
		return IPCX_EBUSY;
	}
	if (size > ipcx_loan_max(c)) {
		return IPCX_EMSGSIZE;
	}
	if (c->tp->loan != NULL) {
		rv = c->tp->loan(c, size, ptr, ipcx__chan_deadline(c, timeout_ms));
	} else {
		rv = loan_grow(&c->lbuf, &c->lcap, size);
		*ptr = rv == 0 ? c->lbuf : NULL;
		c->ltimeout = timeout_ms;
	}
	if (rv == 0) {
		c->loaned = true;
		c->lsize = size;
	}
	return rv;
}

IPCX_API int
ipcx_commit(ipcx_chan *c, void *ptr, size_t len)
{
	if (c == NULL || !c->loaned) {
		return IPCX_EINVAL;
	}
	if (len > c->lsize || (ptr != c->lbuf && c->tp->commit == NULL)) {
		return IPCX_EINVAL;
	}
	if (c->tp->commit != NULL) {
		int rv = c->tp->commit(c, ptr, len);

		if (rv != IPCX_EINVAL) {
			c->loaned = false;
		}
		return rv;
	}
	c->loaned = false;
	return c->tp->send(c, c->lbuf, len, ipcx__deadline(c->ltimeout));
}

IPCX_API int
ipcx_loan_cancel(ipcx_chan *c)
{
	if (c == NULL || !c->loaned) {
		return IPCX_EINVAL;
	}
	c->loaned = false;
	return c->tp->loan_cancel != NULL ? c->tp->loan_cancel(c) : 0;
}

IPCX_API int
ipcx_recv_view(ipcx_chan *c, const void **ptr, size_t *len, int timeout_ms)
{
	int64_t deadline;
	int rv;

	if (c == NULL || ptr == NULL || len == NULL) {
		return IPCX_EINVAL;
	}
	*ptr = NULL;
	if (c->viewing) {
		return IPCX_EBUSY;
	}
	deadline = ipcx__chan_deadline(c, timeout_ms);
	if (c->tp->recv_view != NULL) {
		rv = c->tp->recv_view(c, ptr, len, deadline);
	} else {
		if ((rv = loan_grow(&c->vbuf, &c->vcap, 64 * 1024)) != 0) {
			return rv;
		}
		rv = c->tp->recv(c, c->vbuf, c->vcap, len, deadline);
		if (rv == IPCX_EMSGSIZE && *len <= c->max_msg) {
			/* the message is kept: receive it into a buffer of its size */
			if ((rv = loan_grow(&c->vbuf, &c->vcap, *len)) == 0) {
				rv = c->tp->recv(c, c->vbuf, c->vcap, len, deadline);
			}
		}
		*ptr = rv == 0 ? c->vbuf : NULL;
	}
	if (rv == 0) {
		c->viewing = true;
	}
	ipcx__chan_sync_ev(c);
	return rv;
}

IPCX_API int
ipcx_release(ipcx_chan *c)
{
	int rv = 0;

	if (c == NULL || !c->viewing) {
		return IPCX_EINVAL;
	}
	c->viewing = false;
	if (c->tp->release != NULL) {
		rv = c->tp->release(c);
	}
	ipcx__chan_sync_ev(c);
	return rv;
}
