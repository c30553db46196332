/*
 * io.c - deadlines and the few syscall loops every transport shares: waiting on an fd,
 * writing a whole iovec (partial writes, EINTR, SIGPIPE), one bounded read.
 */
#include "ipcx_int.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int64_t
ipcx__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
ipcx__deadline(int timeout_ms)
{
	if (timeout_ms < 0) {
		return IPCX__FOREVER;
	}
	return ipcx__now_ns() + (int64_t)timeout_ms * 1000000;
}

int
ipcx__poll_ms(int64_t deadline)
{
	int64_t left;

	if (deadline == IPCX__FOREVER) {
		return -1;
	}
	left = deadline - ipcx__now_ns();
	if (left <= 0) {
		return 0;
	}
	left = (left + 999999) / 1000000;
	return left > INT_MAX ? INT_MAX : (int)left;
}

int
ipcx__wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	for (;;) {
		int ms = ipcx__poll_ms(deadline);
		int n = poll(&pfd, 1, ms);
		if (n > 0) {
			if (pfd.revents & POLLNVAL) {
				return IPCX_EBADF;
			}
			return pfd.revents;
		}
		if (n == 0) {
			if (ms == 0 || ipcx__poll_ms(deadline) == 0) {
				return IPCX_ETIMEDOUT;
			}
			continue;
		}
		if (errno != EINTR) {
			return ipcx__err(errno);
		}
	}
}

/* Adaptive budget bounds: a wait that ends within SPIN_MAX would have been caught by
 * retrying that long; the first waits of a channel retry for SPIN_INIT. SPIN_MAX must
 * exceed a blocked round trip (a wake-up, ~50 us on a VM), or a pair that once blocked
 * would never measure a wait short enough to retry again (20 us trapped tcp:// there);
 * above it, every microsecond is CPU taken from others when threads outnumber CPUs
 * (32 RPC clients on 2 CPUs, against block: +30% at 50 us, +50% at 100, +170% at 200). */
#define IO_SPIN_MIN_NS       ((int64_t)1000)
#define IO_SPIN_INIT_NS      ((int64_t)20 * 1000)
#define IO_SPIN_MAX_NS       ((int64_t)100 * 1000)
#define IO_SPIN_PREEMPTED_NS ((int64_t)30 * 1000)

void
ipcx__spin_init(ipcx__spin *s, int mode)
{
	s->mode = mode;
	s->start = s->end = 0;
	s->budget_ns = 0;
	/* with one CPU the peer needs ours to make progress: adaptive never retries there */
	if (mode == IPCX__WAIT_ADAPTIVE && sysconf(_SC_NPROCESSORS_ONLN) > 1) {
		s->budget_ns = IO_SPIN_INIT_NS;
	}
}

bool
ipcx__spin_again(ipcx__spin *s, int64_t deadline)
{
	int64_t now;

	if (!ipcx__spin_on(s)) {
		return false;
	}
	now = ipcx__now_ns();
	if (s->start == 0) {
		s->start = s->last = now;
		s->preempted = false;
		s->end = s->mode == IPCX__WAIT_SPIN ? deadline : now + s->budget_ns;
		if (s->end > deadline) {
			s->end = deadline;
		}
	}
	/* A gap between two attempts (each a syscall of about a microsecond) means that this
	 * thread lost its CPU: more threads want to run than there are CPUs, and retrying
	 * takes the time the peer needs. Block, and retry less next time (spin mode was
	 * asked to spin, and does). */
	if (s->mode == IPCX__WAIT_ADAPTIVE && now - s->last > IO_SPIN_PREEMPTED_NS) {
		s->preempted = true;
		return false;
	}
	s->last = now;
	return now < s->end;
}

/*
 * Follow the real length of the waits, blocked part included: a wait that ended within
 * SPIN_MAX grows the budget to twice it, a longer one halves it. (Growing only when the
 * retrying itself succeeded would lock a pair into the slow path once the budget had
 * shrunk: every wait then ends in poll, however short it was.) The budget never drops to
 * 0, so one short wait after an idle spell brings it back.
 */
void
ipcx__spin_end(ipcx__spin *s)
{
	int64_t waited = ipcx__now_ns() - s->start;

	s->start = 0;
	if (s->mode != IPCX__WAIT_ADAPTIVE) {
		return;
	}
	if (waited <= IO_SPIN_MAX_NS && !s->preempted) {
		int64_t b = s->budget_ns > 2 * waited ? s->budget_ns : 2 * waited;
		s->budget_ns = b < IO_SPIN_MIN_NS   ? IO_SPIN_MIN_NS
		               : b > IO_SPIN_MAX_NS ? IO_SPIN_MAX_NS
		                                    : b;
	} else if (s->budget_ns / 2 >= IO_SPIN_MIN_NS) {
		s->budget_ns /= 2;
	}
}

int
ipcx__set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1) {
		return ipcx__err(errno);
	}
	fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	if (fcntl(fd, F_SETFL, fl) == -1) {
		return ipcx__err(errno);
	}
	return 0;
}

void
ipcx__close_fd(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		close(fd); /* Linux releases the fd even when close reports EINTR */
		errno = saved;
	}
}

/* writev to a pipe or FIFO without letting SIGPIPE kill the process: block it in this
 * thread for the call and swallow the one our own write raised. */
static ssize_t
io_pipe_writev(int fd, const struct iovec *iov, int iovcnt)
{
	sigset_t set, old;
	ssize_t n;
	int e;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	n = writev(fd, iov, iovcnt);
	e = errno;
	if (!sigismember(&old, SIGPIPE)) {
		if (n == -1 && e == EPIPE) {
			const struct timespec zero = {0, 0};
			while (sigtimedwait(&set, NULL, &zero) == -1 && errno == EINTR) {
			}
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	errno = e;
	return n;
}

bool
ipcx__sigpipe_ignored(void)
{
	struct sigaction sa;

	return sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

int
ipcx__writev_all(int fd, unsigned ioflags, struct iovec *iov, int iovcnt, int64_t deadline,
                 size_t *done)
{
	return ipcx__writev_all_sp(fd, ioflags, iov, iovcnt, deadline, done, NULL);
}

int
ipcx__writev_all_sp(int fd, unsigned ioflags, struct iovec *iov, int iovcnt, int64_t deadline,
                    size_t *done, ipcx__spin *sp)
{
	/* a socket without a deadline blocks in sendmsg, unless it retries first */
	bool nowait = deadline != IPCX__FOREVER || ipcx__spin_on(sp);
	int rv = 0;

	*done = 0;
	while (iovcnt > 0) {
		ssize_t n;
		if (iov->iov_len == 0) {
			iov++;
			iovcnt--;
			continue;
		}
		if (ioflags & IPCX__IO_SOCKET) {
			struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
			n = sendmsg(fd, &mh, MSG_NOSIGNAL | (nowait ? MSG_DONTWAIT : 0));
		} else if (ioflags & IPCX__IO_NOSIGPIPE) {
			n = writev(fd, iov, iovcnt);
		} else {
			n = io_pipe_writev(fd, iov, iovcnt);
		}
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				rv = (errno == EPIPE || errno == ECONNRESET) ? IPCX_ECLOSED
				                                             : ipcx__err(errno);
				break;
			}
			if (ipcx__spin_again(sp, deadline)) {
				continue;
			}
			if (deadline == IPCX__FOREVER && nowait && (ioflags & IPCX__IO_SOCKET)) {
				nowait = false; /* done retrying: block in sendmsg as before */
				continue;
			}
			rv = ipcx__wait_fd(fd, POLLOUT, deadline);
			if (rv < 0) {
				break;
			}
			if ((rv & (POLLERR | POLLHUP)) && !(rv & POLLOUT)) {
				rv = IPCX_ECLOSED;
				break;
			}
			rv = 0;
			continue;
		}
		*done += (size_t)n;
		while (n > 0 && iovcnt > 0) {
			if ((size_t)n >= iov->iov_len) {
				n -= (ssize_t)iov->iov_len;
				iov++;
				iovcnt--;
			} else {
				iov->iov_base = (char *)iov->iov_base + n;
				iov->iov_len -= (size_t)n;
				n = 0;
			}
		}
	}
	ipcx__spin_done(sp);
	return rv;
}

/* Read without blocking whatever the fd's mode: MSG_DONTWAIT on sockets, RWF_NOWAIT on
 * pipes and FIFOs (a blocking read fd then costs one syscall when waiting forever). */
static ssize_t
io_read_nowait(int fd, bool is_socket, void *buf, size_t cap)
{
	struct iovec iov = {buf, cap};
	ssize_t n;

	if (is_socket) {
		return recv(fd, buf, cap, MSG_DONTWAIT);
	}
	n = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
	if (n == -1 && errno == EOPNOTSUPP) {
		/* an old kernel: poll says whether a read would block */
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, 0) == 0) {
			errno = EAGAIN;
			return -1;
		}
		n = read(fd, buf, cap);
	}
	return n;
}

ssize_t
ipcx__read_some(int fd, bool is_socket, void *buf, size_t cap, int64_t deadline, bool *wait_first)
{
	return ipcx__read_some_sp(fd, is_socket, buf, cap, deadline, wait_first, NULL);
}

ssize_t
ipcx__read_some_sp(int fd, bool is_socket, void *buf, size_t cap, int64_t deadline,
                   bool *wait_first, ipcx__spin *sp)
{
	/* While retrying, every attempt is non-blocking and none polls first. Otherwise, with
	 * a deadline, waiting first saves the futile read of a ping-pong and reading first
	 * saves the poll of a stream that keeps the fd full: learn which this is. */
	bool spin = ipcx__spin_on(sp);
	bool block = deadline == IPCX__FOREVER && !spin;
	bool wait = deadline != IPCX__FOREVER && !spin && *wait_first;
	ssize_t n;

	/* a timeout of 0 (an event loop that was told the fd is readable): polling first
	 * would only cost a syscall, the read says as much */
	if (wait && ipcx__poll_ms(deadline) == 0) {
		wait = false;
	}

	for (;;) {
		if (wait) {
			int rv = ipcx__wait_fd(fd, POLLIN, deadline);
			if (rv < 0) {
				n = rv;
				break;
			}
		}
		if (block) {
			n = is_socket ? recv(fd, buf, cap, 0) : read(fd, buf, cap);
		} else {
			n = io_read_nowait(fd, is_socket, buf, cap);
		}
		if (n > 0) {
			if ((size_t)n == cap) {
				*wait_first = false; /* a backlog: read first next time */
			}
			break;
		}
		if (n == 0 || errno == ECONNRESET) {
			n = IPCX_ECLOSED;
			break;
		}
		if (errno == EINTR) {
			wait = false;
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			n = ipcx__err(errno);
			break;
		}
		*wait_first = true;
		if (ipcx__spin_again(sp, deadline)) {
			wait = false;
		} else if (deadline == IPCX__FOREVER && !block) {
			block = true; /* done retrying: block in read as before */
			wait = false;
		} else {
			wait = true;
		}
	}
	ipcx__spin_done(sp);
	return n;
}

int
ipcx__accept_fd(int lfd, int64_t deadline)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			return fd;
		}
		switch (errno) {
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
		case ENETDOWN:
		case ENOPROTOOPT:
		case EHOSTDOWN:
		case ENONET:
		case EHOSTUNREACH:
		case EOPNOTSUPP:
		case ENETUNREACH:
			continue; /* that client is gone; the listener is fine */
		case EAGAIN: {
			int rv = ipcx__wait_fd(lfd, POLLIN, deadline);
			if (rv < 0) {
				return rv;
			}
			continue;
		}
		default:
			return ipcx__err(errno);
		}
	}
}

int
ipcx__connect_fd(int fd, const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
	int rv, err = 0;
	socklen_t elen = sizeof err;

	if ((rv = ipcx__set_nonblock(fd, true)) != 0) {
		return rv;
	}
	if (connect(fd, sa, len) == 0) {
		return ipcx__set_nonblock(fd, false);
	}
	if (errno != EINPROGRESS && errno != EINTR) {
		return ipcx__err(errno);
	}
	if ((rv = ipcx__wait_fd(fd, POLLOUT, deadline)) < 0) {
		return rv;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1) {
		return ipcx__err(errno);
	}
	if (err != 0) {
		return ipcx__err(err);
	}
	return ipcx__set_nonblock(fd, false);
}

int
ipcx__pollset_new(int fd, int *epfd, int *evfd)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int rv;

	if ((*evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		return ipcx__err(errno);
	}
	if ((*epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		rv = ipcx__err(errno);
		goto fail_ev;
	}
	ev.data.fd = fd;
	if (epoll_ctl(*epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		rv = ipcx__err(errno);
		goto fail_ep;
	}
	ev.data.fd = *evfd;
	if (epoll_ctl(*epfd, EPOLL_CTL_ADD, *evfd, &ev) == -1) {
		rv = ipcx__err(errno);
		goto fail_ep;
	}
	return 0;
fail_ep:
	close(*epfd);
fail_ev:
	close(*evfd);
	*epfd = *evfd = -1;
	return rv;
}

void
ipcx__ev_set(int evfd, bool on)
{
	uint64_t v = 1;
	ssize_t n = on ? write(evfd, &v, sizeof v) : read(evfd, &v, sizeof v);

	IPCX__UNUSED(n); /* EAGAIN: it already was (not) readable */
}
