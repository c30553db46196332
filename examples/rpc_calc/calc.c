/*
 * calc.c - XDR (RFC 4506) for the types of calc.x, shared by calc_server and calc_client:
 * each routine encodes or decodes, whichever way the stream goes.
 */
#include "calc.h"

int
xdr_operands(ipcx_xdr *x, void *obj)
{
	struct operands *o = obj;
	int rv;

	if ((rv = ipcx_xdr_int(x, &o->a)) != 0) {
		return rv;
	}
	return ipcx_xdr_int(x, &o->b);
}

int
xdr_div_result(ipcx_xdr *x, void *obj)
{
	struct div_result *r = obj;
	int rv;

	if ((rv = ipcx_xdr_enum(x, &r->status)) != 0) {
		return rv;
	}
	switch (r->status) {
	case CALC_OK:
		return ipcx_xdr_int(x, &r->quotient);
	case CALC_DIV_BY_ZERO:
		return 0; /* void */
	default:
		/* no default arm in calc.x: any other discriminant is malformed */
		if (x->err == 0) {
			x->err = IPCX_EBADMSG;
		}
		return x->err;
	}
}

int
xdr_int32(ipcx_xdr *x, void *obj)
{
	return ipcx_xdr_int(x, obj);
}
