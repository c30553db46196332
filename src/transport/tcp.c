#include "../core/ipcx_int.h"
static int tcp_persistence(const ipcx__url *u) { (void)u; return IPCX_PERSIST_PROCESS; }
const struct ipcx__transport ipcx__tcp = { .version = IPCX__TRANSPORT_VERSION, .scheme = "tcp", .persistence = tcp_persistence };
int ipcx__tcp_chan_from_fd(ipcx_chan **cp, int fd, const ipcx__opts *o) { (void)cp; (void)fd; (void)o; return IPCX_ENOTSUP; }
