/*
 * calc.h - the types of calc.x in C and their XDR routines (calc.c), written by hand as a
 * reader of RFC 4506 would write them; rpcgen would generate the same wire format.
 */
#ifndef CALC_H
#define CALC_H

#include <ipcx.h>

#include <stdint.h>

#define CALC_PROG 0x20000099u
#define CALC_VERS 1u

/* the procedures of CALC_VERS */
#define CALC_ADD 1u
#define CALC_SUB 2u
#define CALC_MUL 3u
#define CALC_DIV 4u

/* struct operands { int a; int b; }; */
struct operands {
	int32_t a;
	int32_t b;
};

/* enum calc_status { CALC_OK = 0, CALC_DIV_BY_ZERO = 1 }; */
enum calc_status {
	CALC_OK = 0,
	CALC_DIV_BY_ZERO = 1,
};

/* union div_result switch (calc_status status) { case CALC_OK: int quotient;
 *                                                case CALC_DIV_BY_ZERO: void; }; */
struct div_result {
	int32_t status;   /* enum calc_status */
	int32_t quotient; /* when status is CALC_OK */
};

/* ipcx_xdr_fn routines: encode or decode (x->op) one object. */
int xdr_operands(ipcx_xdr *x, void *obj);
int xdr_div_result(ipcx_xdr *x, void *obj);
/* int, for the results of ADD, SUB and MUL */
int xdr_int32(ipcx_xdr *x, void *obj);

#endif
