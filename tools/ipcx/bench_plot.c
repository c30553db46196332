/*
 * bench_plot.c - `ipcx bench --plot FILE.png`: the round-trip p50 and the messages/s of each
 * scheme, shared-memory baseline and peer at each size, drawn by gnuplot from this run's rows.
 */
#include "bench_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PLOT_MAX_SIZES  16
#define PLOT_MAX_LABELS 64
#define PLOT_WAIT_S     60

typedef struct plot_series {
	const char *label;
	double rtt[PLOT_MAX_SIZES], mps[PLOT_MAX_SIZES]; /* 0: none */
} plot_series;

static double
plot_median(const bench_series *s, bool ok)
{
	bench_summary m = bench_summarize(s);

	return ok && m.valid && m.med > 0 ? m.med : 0;
}

/* One series per scheme: ipcx's result of a scheme's own row (the raw baselines stay in the
 * table: the plot would drown in them), every member of a group row. */
static int
plot_collect(const bench_row *rows, int nrows, size_t *sizes, int *nsizes, plot_series *v)
{
	int n = 0;

	*nsizes = 0;
	for (int i = 0; i < nrows; i++) {
		const bench_row *row = &rows[i];
		int z = 0;
		while (z < *nsizes && sizes[z] != row->size) {
			z++;
		}
		if (z == *nsizes) {
			if (*nsizes == PLOT_MAX_SIZES) {
				continue;
			}
			sizes[(*nsizes)++] = row->size;
		}
		for (int k = 0; k < (row->group ? row->nres : 1) && !row->skipped; k++) {
			const bench_result *r = &row->res[k];
			bool ok = !r->failed && !r->skipped;
			int s = 0;
			if (r->label == NULL) {
				continue;
			}
			while (s < n && strcmp(v[s].label, r->label) != 0) {
				s++;
			}
			if (s == n) {
				if (n == PLOT_MAX_LABELS) {
					continue;
				}
				memset(&v[n], 0, sizeof v[n]);
				v[n++].label = r->label;
			}
			v[s].rtt[z] = plot_median(&r->p50, ok);
			v[s].mps[z] = plot_median(&r->mps, ok);
		}
	}
	return n;
}

static int
plot_write(const char *dat, const char *gp, const char *png, const size_t *sizes, int nsizes,
           const plot_series *v, int n, char *err, size_t cap)
{
	FILE *f = fopen(dat, "we");

	if (f == NULL) {
		snprintf(err, cap, "cannot write %s: %s", dat, strerror(errno));
		return -errno;
	}
	fprintf(f, "# scheme, then round-trip p50 (us) per size, then messages/s per size\n");
	for (int s = 0; s < n; s++) {
		fprintf(f, "\"%s\"", v[s].label);
		for (int z = 0; z < nsizes; z++) {
			fprintf(f, v[s].rtt[z] > 0 ? " %.6g" : " ?", v[s].rtt[z]);
		}
		for (int z = 0; z < nsizes; z++) {
			fprintf(f, v[s].mps[z] > 0 ? " %.6g" : " ?", v[s].mps[z]);
		}
		fputc('\n', f);
	}
	if (fclose(f) != 0 || (f = fopen(gp, "we")) == NULL) {
		snprintf(err, cap, "cannot write %s: %s", gp, strerror(errno));
		return -errno;
	}
	fprintf(f,
	        "set terminal pngcairo size 1600,1100 noenhanced font \",10\"\n"
	        "set output \"%s\"\n"
	        "set datafile missing \"?\"\n"
	        "set style data histograms\n"
	        "set style histogram clustered gap 1\n"
	        "set style fill solid 0.85 border -1\n"
	        "set logscale y\n"
	        "set grid ytics mytics\n"
	        "set xtics rotate by -35 nomirror\n"
	        "set key top left\n"
	        "set multiplot layout 2,1 title \"ipcx bench: two processes on two CPUs\"\n"
	        "set title \"round trip, p50 (lower is better)\"\n"
	        "set ylabel \"microseconds (log)\"\n"
	        "set format y \"%%g\"\n",
	        png);
	for (int m = 0; m < 2; m++) {
		if (m == 1) {
			fprintf(f, "set title \"one-way stream (higher is better)\"\n"
			           "set ylabel \"messages per second (log)\"\n"
			           "set format y \"%%.0s%%c\"\n");
		}
		fprintf(f, "plot ");
		for (int z = 0; z < nsizes; z++) {
			char sz[32];
			bench_fmt_size(sz, sizeof sz, sizes[z]);
			fprintf(f, "%s\"%s\" using %d%s title \"%s\"", z ? ", " : "", z ? "" : dat,
			        2 + m * nsizes + z, z ? "" : ":xtic(1)", sz);
		}
		fputc('\n', f);
	}
	fprintf(f, "unset multiplot\n");
	if (fclose(f) != 0) {
		snprintf(err, cap, "cannot write %s: %s", gp, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Run gnuplot on the script, its messages into errfile; bounded. */
static int
plot_run(const char *gp, const char *errfile, char *err, size_t cap)
{
	time_t give_up = time(NULL) + PLOT_WAIT_S;
	pid_t pid;
	int st;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		snprintf(err, cap, "fork: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execlp("gnuplot", "gnuplot", gp, (char *)NULL);
		_exit(127);
	}
	for (;;) {
		struct timespec ms = {0, 20000000};
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid) {
			break;
		}
		if (w == -1 && errno != EINTR) {
			snprintf(err, cap, "waitpid: %s", strerror(errno));
			return -errno;
		}
		if (time(NULL) > give_up) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			snprintf(err, cap, "gnuplot did not finish in %d s", PLOT_WAIT_S);
			return IPCX_ETIMEDOUT;
		}
		nanosleep(&ms, NULL);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char line[256] = "", last[256] = "no message";
		FILE *f = fopen(errfile, "re");
		while (f != NULL && fgets(line, sizeof line, f) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			if (line[0] != '\0') {
				snprintf(last, sizeof last, "%s", line);
			}
		}
		if (f != NULL) {
			fclose(f);
		}
		snprintf(err, cap, "gnuplot failed (%s %d): %s",
		         WIFEXITED(st) ? "exit status" : "signal",
		         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
		         WIFEXITED(st) && WEXITSTATUS(st) == 127 ? "cannot run gnuplot" : last);
		return IPCX_EIO;
	}
	return 0;
}

int
bench_plot(const char *dir, const char *png, const bench_row *rows, int nrows, char *err,
           size_t cap)
{
	char dat[BENCH_ADDR_MAX], gp[BENCH_ADDR_MAX], ef[BENCH_ADDR_MAX];
	plot_series *v = calloc(PLOT_MAX_LABELS, sizeof *v);
	size_t sizes[PLOT_MAX_SIZES];
	int nsizes, n, rv;

	if (v == NULL) {
		snprintf(err, cap, "out of memory");
		return IPCX_ENOMEM;
	}
	n = plot_collect(rows, nrows, sizes, &nsizes, v);
	if (n == 0) {
		free(v);
		snprintf(err, cap, "nothing was measured");
		return IPCX_ENODATA;
	}
	snprintf(dat, sizeof dat, "%s/plot.dat", dir);
	snprintf(gp, sizeof gp, "%s/plot.gp", dir);
	snprintf(ef, sizeof ef, "%s/plot.err", dir);
	rv = plot_write(dat, gp, png, sizes, nsizes, v, n, err, cap);
	free(v);
	return rv != 0 ? rv : plot_run(gp, ef, err, cap);
}
