/*
 * shmem.c - the lecture's shared-memory program on ipcx: a producer and a consumer process
 * pass items through a ring of slots in one named segment, guarded by semaphores in it.
 *
 *   usage: shmem [--items N] [--slots K] [NAME]
 *   NAME: a segment name ("shmem-PID" by default; "sysv:0x1234" for System V).
 *
 * The segment holds three unnamed process-shared semaphores (empty slots, full slots, and
 * a mutex over the ring's indices), a fourth that tells the producer the consumer has the
 * segment, and the ring. Every wait has a timeout: a dead partner is an error, not a hang.
 */
#define _POSIX_C_SOURCE 200809L

#include <ipcx.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define TIMEOUT_MS 5000
#define MAX_SLOTS  64
#define TEXT_MAX   56

/* Offsets in the segment: semaphores live on 64-byte boundaries. */
enum { OFF_EMPTY = 0, OFF_FULL = 64, OFF_MUTEX = 128, OFF_READY = 192, OFF_RING = 256 };

struct slot {
	unsigned len; /* 0: the end, no more items */
	char text[TEXT_MAX];
};

struct ring {
	unsigned nslots;
	unsigned head; /* next slot the producer fills */
	unsigned tail; /* next slot the consumer empties */
	struct slot slots[MAX_SLOTS];
};

struct sems {
	ipcx_sem *empty, *full, *mutex, *ready;
};

static int
fail(const char *who, const char *what, int err)
{
	const char *detail = ipcx_errdetail();

	fprintf(stderr, "shmem: %s: %s: %s%s%s\n", who, what, ipcx_strerror(err),
	        *detail ? ": " : "", detail);
	return EXIT_FAILURE;
}

/* Create (the producer) or attach to (the consumer) the four semaphores in segment s. */
static int
sems_init(struct sems *x, ipcx_shm *s, unsigned nslots, int create)
{
	int f = create ? IPCX_CREATE : 0, rv;

	memset(x, 0, sizeof *x);
	if ((rv = ipcx_sem_init_shm(&x->empty, s, OFF_EMPTY, nslots, f)) != 0 ||
	    (rv = ipcx_sem_init_shm(&x->full, s, OFF_FULL, 0, f)) != 0 ||
	    (rv = ipcx_sem_init_shm(&x->mutex, s, OFF_MUTEX, 1, f | IPCX_SEM_BINARY)) != 0 ||
	    (rv = ipcx_sem_init_shm(&x->ready, s, OFF_READY, 0, f)) != 0) {
		return rv;
	}
	return 0;
}

/* Semaphores before the segment they live in. */
static void
sems_close(struct sems *x)
{
	ipcx_sem_close(x->empty);
	ipcx_sem_close(x->full);
	ipcx_sem_close(x->mutex);
	ipcx_sem_close(x->ready);
}

/* One item into the ring: wait for an empty slot, fill it under the mutex, count it full. */
static int
put(struct ring *r, struct sems *x, const char *text, unsigned len)
{
	int rv;

	if ((rv = ipcx_sem_wait(x->empty, TIMEOUT_MS)) != 0 ||
	    (rv = ipcx_sem_wait(x->mutex, TIMEOUT_MS)) != 0) {
		return rv;
	}
	r->slots[r->head].len = len;
	memcpy(r->slots[r->head].text, text, len);
	r->head = (r->head + 1) % r->nslots;
	if ((rv = ipcx_sem_post(x->mutex)) != 0) {
		return rv;
	}
	return ipcx_sem_post(x->full);
}

/* The consumer, in the child: its own mapping of the segment, opened by name. */
static int
consumer(const char *name)
{
	char text[TEXT_MAX + 1];
	struct sems x;
	struct ring *r;
	ipcx_shm *s;
	unsigned len, n = 0;
	int rv;

	if ((rv = ipcx_shm_open(&s, name, 0, 0, 0)) != 0) {
		return fail("consumer", "open segment", rv);
	}
	if ((rv = sems_init(&x, s, 0, 0)) != 0) {
		sems_close(&x);
		ipcx_shm_close(s);
		return fail("consumer", "semaphores", rv);
	}
	r = (struct ring *)((char *)ipcx_shm_ptr(s) + OFF_RING);
	if (ipcx_shm_size(s) < OFF_RING + sizeof *r || r->nslots < 1 || r->nslots > MAX_SLOTS) {
		rv = IPCX_EPROTO; /* not the layout the producer makes */
		goto out;
	}
	/* tell the producer we have it mapped: from now on the name is not needed */
	if ((rv = ipcx_sem_post(x.ready)) != 0) {
		goto out;
	}
	for (;;) {
		if ((rv = ipcx_sem_wait(x.full, TIMEOUT_MS)) != 0 ||
		    (rv = ipcx_sem_wait(x.mutex, TIMEOUT_MS)) != 0) {
			goto out;
		}
		len = r->slots[r->tail].len;
		if (len > TEXT_MAX) {
			len = TEXT_MAX; /* the segment is shared: never trust a length in it */
		}
		memcpy(text, r->slots[r->tail].text, len);
		text[len] = '\0';
		r->tail = (r->tail + 1) % r->nslots;
		if ((rv = ipcx_sem_post(x.mutex)) != 0 || (rv = ipcx_sem_post(x.empty)) != 0) {
			goto out;
		}
		if (len == 0) {
			break;
		}
		n++;
		printf("consumer: got \"%s\"\n", text);
	}
	printf("consumer: end after %u items\n", n);
out:
	fflush(stdout);
	sems_close(&x);
	ipcx_shm_close(s);
	return rv == 0 ? EXIT_SUCCESS : fail("consumer", "ring", rv);
}

static int
producer(ipcx_shm *s, struct sems *x, const char *name, pid_t child, unsigned items)
{
	struct ring *r = (struct ring *)((char *)ipcx_shm_ptr(s) + OFF_RING);
	char text[TEXT_MAX + 1];
	int rv, st;

	/* once the consumer has it mapped, remove the name: whatever happens to either of
	 * us from here on, nothing is left behind in /dev/shm or the System V table */
	if ((rv = ipcx_sem_wait(x->ready, TIMEOUT_MS)) != 0) {
		return fail("producer", "waiting for the consumer", rv);
	}
	if ((rv = ipcx_shm_unlink(name)) != 0) {
		return fail("producer", "unlink", rv);
	}
	for (unsigned i = 1; i <= items; i++) {
		int n = snprintf(text, sizeof text, "item %u of %u", i, items);
		if ((rv = put(r, x, text, (unsigned)n)) != 0) {
			return fail("producer", "put", rv);
		}
	}
	if ((rv = put(r, x, "", 0)) != 0) {
		return fail("producer", "put end", rv);
	}
	while (waitpid(child, &st, 0) == -1) {
		if (errno != EINTR) {
			perror("shmem: waitpid");
			return EXIT_FAILURE;
		}
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "shmem: consumer failed\n");
		return EXIT_FAILURE;
	}
	printf("producer: %u items through %u slots; consumer exited 0\n", items, r->nslots);
	return EXIT_SUCCESS;
}

int
main(int argc, char **argv)
{
	unsigned items = 20, slots = 4;
	char defname[64];
	const char *name = NULL;
	struct sems x;
	ipcx_shm *s;
	pid_t pid;
	int rv, i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--items") == 0 && i + 1 < argc) {
			items = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--slots") == 0 && i + 1 < argc) {
			slots = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (argv[i][0] != '-' && name == NULL) {
			name = argv[i];
		} else {
			fprintf(stderr, "usage: shmem [--items N] [--slots K] [NAME]\n");
			return 2;
		}
	}
	if (slots < 1 || slots > MAX_SLOTS) {
		fprintf(stderr, "shmem: --slots must be 1..%d\n", MAX_SLOTS);
		return 2;
	}
	if (name == NULL) {
		snprintf(defname, sizeof defname, "shmem-%ld", (long)getpid());
		name = defname;
	}

	/* the producer makes the segment (mode 0600, removed when it closes it) */
	rv = ipcx_shm_open(&s, name, OFF_RING + sizeof(struct ring), IPCX_CREATE | IPCX_EXCL, 0);
	if (rv != 0) {
		return fail("producer", name, rv);
	}
	((struct ring *)((char *)ipcx_shm_ptr(s) + OFF_RING))->nslots = slots;
	if ((rv = sems_init(&x, s, slots, 1)) != 0) {
		sems_close(&x);
		ipcx_shm_close(s);
		return fail("producer", "semaphores", rv);
	}
	fflush(stdout);
	if ((pid = fork()) == -1) {
		perror("shmem: fork");
		rv = EXIT_FAILURE;
	} else if (pid == 0) {
		/* the inherited handles: closing them in the child only unmaps, since the
		 * child did not create the segment; the consumer maps it again by name */
		sems_close(&x);
		ipcx_shm_close(s);
		exit(consumer(name));
	} else {
		rv = producer(s, &x, name, pid, items);
		if (rv != EXIT_SUCCESS) {
			kill(pid, SIGTERM);
			waitpid(pid, NULL, 0);
		}
	}
	sems_close(&x);
	ipcx_shm_close(s);
	return rv;
}
