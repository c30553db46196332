/*
 * bench_out.c - what `ipcx bench` prints: the machine it ran on, and its results as a table
 * (stdout), CSV (one line per implementation) or one JSON document.
 */
#include "bench_int.h"

#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

/* ---- statistics over runs --------------------------------------------------------------- */

static int
out_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

bench_summary
bench_summarize(const bench_series *s)
{
	bench_summary r = {0, 0, 0, false};
	double v[BENCH_MAX_RUNS];

	if (s->n <= 0) {
		return r;
	}
	memcpy(v, s->v, (size_t)s->n * sizeof v[0]);
	qsort(v, (size_t)s->n, sizeof v[0], out_cmp_double);
	r.min = v[0];
	r.max = v[s->n - 1];
	r.med = s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
	r.valid = true;
	return r;
}

/* The ratio of two implementations: the median over runs of each run's own ratio. The two
 * were measured back to back in each run, so drift on a shared machine largely cancels. */
static double
out_ratio(const bench_series *a, const bench_series *b)
{
	bench_series r = {.n = 0};

	for (int i = 0; i < a->n && i < b->n; i++) {
		if (b->v[i] > 0) {
			r.v[r.n++] = a->v[i] / b->v[i];
		}
	}
	return r.n > 0 ? bench_summarize(&r).med : NAN;
}

/* ---- the machine ---------------------------------------------------------------------- */

void
bench_loadavg(char *buf, size_t cap)
{
	double l[3];
	FILE *f = fopen("/proc/loadavg", "r");

	if (f != NULL && fscanf(f, "%lf %lf %lf", &l[0], &l[1], &l[2]) == 3) {
		snprintf(buf, cap, "%.2f %.2f %.2f", l[0], l[1], l[2]);
	} else {
		snprintf(buf, cap, "?");
	}
	if (f != NULL) {
		fclose(f);
	}
}

void
bench_machine_probe(bench_machine *m)
{
	struct utsname u;
	struct sysinfo si;
	cpu_set_t set;
	char line[256];
	FILE *f;

	memset(m, 0, sizeof *m);
	snprintf(m->cpu_model, sizeof m->cpu_model, "unknown");
	if ((f = fopen("/proc/cpuinfo", "r")) != NULL) {
		while (fgets(line, sizeof line, f) != NULL) {
			char *colon = strchr(line, ':');
			if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
				colon += 1 + strspn(colon + 1, " \t");
				colon[strcspn(colon, "\n")] = '\0';
				snprintf(m->cpu_model, sizeof m->cpu_model, "%s", colon);
				break;
			}
		}
		fclose(f);
	}
	m->cpus_online = sysconf(_SC_NPROCESSORS_ONLN);
	if (sched_getaffinity(0, sizeof set, &set) == 0) {
		m->cpus_allowed = CPU_COUNT(&set);
	}
	if (uname(&u) == 0) {
		snprintf(m->kernel, sizeof m->kernel, "%s %s %s", u.sysname, u.release, u.machine);
	}
	if (sysinfo(&si) == 0) {
		m->mem_mib = (long)((unsigned long long)si.totalram * si.mem_unit >> 20);
	}
#if defined(__clang__)
	snprintf(m->compiler, sizeof m->compiler, "clang %s", __clang_version__);
#elif defined(__GNUC__)
	snprintf(m->compiler, sizeof m->compiler, "gcc %d.%d.%d", __GNUC__, __GNUC_MINOR__,
	         __GNUC_PATCHLEVEL__);
#else
	snprintf(m->compiler, sizeof m->compiler, "unknown");
#endif
	bench_loadavg(m->load, sizeof m->load);
}

/* ---- formatting helpers ------------------------------------------------------------- */

void
bench_fmt_size(char *buf, size_t cap, size_t size)
{
	if (size >= ((size_t)1 << 20) && size % ((size_t)1 << 20) == 0) {
		snprintf(buf, cap, "%zu MiB", size >> 20);
	} else if (size >= 1024 && size % 1024 == 0) {
		snprintf(buf, cap, "%zu KiB", size >> 10);
	} else {
		snprintf(buf, cap, "%zu B", size);
	}
}

/* 3 significant digits with k/M/G: "812k", "1.23M". */
static void
out_fmt_si(char *buf, size_t cap, double v)
{
	static const char *const suf[] = {"", "k", "M", "G"};
	int i = 0;

	while (v >= 999.5 && i < 3) {
		v /= 1000;
		i++;
	}
	snprintf(buf, cap, v >= 99.95 ? "%.0f%s" : v >= 9.995 ? "%.1f%s" : "%.2f%s", v, suf[i]);
}

/* Latency in microseconds with about 3 significant digits. */
static void
out_fmt_us(char *buf, size_t cap, double us)
{
	snprintf(buf, cap, us >= 999.5 ? "%.0f" : us >= 99.95 ? "%.1f" : "%.2f", us);
}

/* Half the min-max spread in percent of the median: "±3%". */
static void
out_fmt_spread(char *buf, size_t cap, bench_summary s)
{
	if (!s.valid || s.med <= 0) {
		if (cap > 0) {
			buf[0] = '\0';
		}
		return;
	}
	snprintf(buf, cap, "±%.0f%%", (s.max - s.min) / 2 / s.med * 100);
}

static bool
out_res_ok(const bench_result *r)
{
	return r->impl != NULL && !r->failed && r->p50.n > 0;
}

/* ---- table ---------------------------------------------------------------------------- */

static void
out_table_begin(const bench_config *cfg, const bench_machine *m, const char *note)
{
	printf("ipcx bench (%s): %d runs per figure, median and ±half the min-max spread; "
	       "timeout %d ms\n",
	       cfg->quick ? "quick" : "full", cfg->runs, cfg->timeout_ms);
	printf("machine: %s, %ld CPUs online (%ld allowed), %s, %ld MiB, %s; load %s\n",
	       m->cpu_model, m->cpus_online, m->cpus_allowed, m->kernel, m->mem_mib, m->compiler,
	       m->load);
	if (cfg->cpu[0] >= 0) {
		printf("workers pinned: receiver/echo on CPU %d, sender/timer on CPU %d\n",
		       cfg->cpu[0], cfg->cpu[1]);
	}
	if (note != NULL && note[0] != '\0') {
		printf("note: %s\n", note);
	}
	printf("x = ipcx / raw baseline doing the same job, measured back to back in each run; "
	       "median over runs\n    (latency: >1 is slower; msgs/s: <1 is slower)\n\n");
	printf("%-9s %-7s %9s %5s %9s", "scheme", "size", "rtt p50", "±", "p99");
	if (!cfg->quick) {
		printf(" %9s", "p99.9");
	}
	printf(" %9s %5s %6s | %8s %5s %8s %8s %5s %6s\n", "raw p50", "±", "x", "msgs/s", "±",
	       "MB/s", "raw m/s", "±", "x");
	printf("%-9s %-7s %9s %5s %9s", "", "", "us", "", "us");
	if (!cfg->quick) {
		printf(" %9s", "us");
	}
	printf(" %9s %5s %6s |\n", "us", "", "");
}

/* A line on CPU use where ipcx's costs clearly more than its baseline's (a side that waits
 * busily buys latency with CPU time: the table must not show only the latency). */
static void
out_table_cpu(const bench_row *row, const char *what, int stream)
{
	const bench_result *ix = &row->res[0], *raw = &row->res[1];
	bench_summary a, b;

	if (!out_res_ok(ix) || !out_res_ok(raw)) {
		return;
	}
	a = bench_summarize(stream ? &ix->cpu_stream : &ix->cpu_ping);
	b = bench_summarize(stream ? &raw->cpu_stream : &raw->cpu_ping);
	if (a.valid && b.valid && a.med > 1.5 * b.med && a.med - b.med >= 20) {
		printf("        cpu in %s (both workers, %% of one CPU): %s %.0f%%, %s %.0f%%\n",
		       what, ix->impl->name, a.med, raw->impl->name, b.med);
	}
}

static void
out_table_row(const bench_config *cfg, const bench_row *row)
{
	const bench_result *ix = &row->res[0], *raw = &row->res[1];
	char size[32], a[32], b[32], c[32], d[32], e[32], f[32], g[32], h[32];
	bench_summary s;

	bench_fmt_size(size, sizeof size, row->size);
	printf("%-9s %-7s ", row->scheme, size);
	if (row->skipped) {
		printf("skipped: %s\n", row->note);
		return;
	}
	if (out_res_ok(ix)) {
		s = bench_summarize(&ix->p50);
		out_fmt_us(a, sizeof a, s.med);
		out_fmt_spread(b, sizeof b, s);
		out_fmt_us(c, sizeof c, bench_summarize(&ix->p99).med);
		printf("%9s %5s %9s", a, b, c);
		if (!cfg->quick) {
			out_fmt_us(d, sizeof d, bench_summarize(&ix->p999).med);
			printf(" %9s", d);
		}
	} else {
		printf("%9s %5s %9s", "FAILED", "", "");
		if (!cfg->quick) {
			printf(" %9s", "");
		}
	}
	if (out_res_ok(raw)) {
		s = bench_summarize(&raw->p50);
		out_fmt_us(a, sizeof a, s.med);
		out_fmt_spread(b, sizeof b, s);
		printf(" %9s %5s", a, b);
	} else {
		printf(" %9s %5s", "FAILED", "");
	}
	if (out_res_ok(ix) && out_res_ok(raw)) {
		snprintf(a, sizeof a, "%.2f", out_ratio(&ix->p50, &raw->p50));
	} else {
		snprintf(a, sizeof a, "-");
	}
	printf(" %6s |", a);
	if (out_res_ok(ix) && ix->mps.n > 0) {
		s = bench_summarize(&ix->mps);
		out_fmt_si(e, sizeof e, s.med);
		out_fmt_spread(f, sizeof f, s);
		out_fmt_us(g, sizeof g, bench_summarize(&ix->mbps).med);
		printf(" %8s %5s %8s", e, f, g);
	} else {
		printf(" %8s %5s %8s", "-", "", "");
	}
	if (out_res_ok(raw) && raw->mps.n > 0) {
		s = bench_summarize(&raw->mps);
		out_fmt_si(e, sizeof e, s.med);
		out_fmt_spread(f, sizeof f, s);
		printf(" %8s %5s", e, f);
	} else {
		printf(" %8s %5s", "-", "");
	}
	if (out_res_ok(ix) && out_res_ok(raw) && ix->mps.n > 0 && raw->mps.n > 0) {
		snprintf(h, sizeof h, "%.2f", out_ratio(&ix->mps, &raw->mps));
	} else {
		snprintf(h, sizeof h, "-");
	}
	printf(" %6s\n", h);
	for (int i = 0; i < row->nres; i++) {
		if (row->res[i].failed) {
			printf("        %s failed: %s\n", row->res[i].impl->name, row->res[i].err);
		}
	}
	{
		const char *sep = "        stream loss: ";
		bool any = false;
		for (int i = 0; i < row->nres; i++) {
			bench_summary l = bench_summarize(&row->res[i].loss);
			if (out_res_ok(&row->res[i]) && l.valid && l.max > 0) {
				printf("%s%s %.1f%% (%.1f-%.1f)", sep, row->res[i].impl->name,
				       l.med, l.min, l.max);
				sep = ", ";
				any = true;
			}
		}
		if (any) {
			printf("; msgs/s counts what arrived\n");
		}
	}
	out_table_cpu(row, "ping-pong", 0);
	out_table_cpu(row, "stream", 1);
	if (row->note[0] != '\0') {
		printf("        note: %s\n", row->note);
	}
}

/* ---- CSV ------------------------------------------------------------------------------ */

static void
out_csv_text(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"') {
			putchar('"');
		}
		putchar(*s == '\n' ? ' ' : *s);
	}
	putchar('"');
}

static void
out_csv_summary(bench_summary s)
{
	if (s.valid) {
		printf(",%.6g,%.6g,%.6g", s.med, s.min, s.max);
	} else {
		printf(",,,");
	}
}

static void
out_csv_begin(void)
{
	printf("scheme,size,impl,role,status,error,runs,round_trips,"
	       "rtt_p50_us,rtt_p50_min_us,rtt_p50_max_us,rtt_p99_us,rtt_p99_min_us,rtt_p99_max_us,"
	       "rtt_p999_us,rtt_p999_min_us,rtt_p999_max_us,"
	       "msgs_per_s,msgs_per_s_min,msgs_per_s_max,mb_per_s,mb_per_s_min,mb_per_s_max,"
	       "loss_pct,baseline,ratio_rtt_p50,ratio_msgs_per_s,note,cpu_pingpong_pct,"
	       "cpu_stream_pct\n");
}

static void
out_csv_row(const bench_row *row)
{
	for (int i = 0; i < (row->skipped ? 1 : row->nres); i++) {
		const bench_result *r = &row->res[i], *base = &row->res[1];
		const char *status = row->skipped ? "skipped" : r->failed ? "failed" : "ok";
		printf("%s,%zu,", row->scheme, row->size);
		out_csv_text(row->skipped ? "" : r->impl->name);
		printf(",%s,%s,", row->skipped ? "" : i == 0 ? "ipcx" : "baseline", status);
		out_csv_text(r->failed ? r->err : "");
		if (row->skipped || !out_res_ok(r)) {
			printf(",,,,,,,,,,,,,,,,,,"); /* runs, round trips, 5 x 3 summaries, loss */
		} else {
			printf(",%d,%llu", r->p50.n, (unsigned long long)r->samples);
			out_csv_summary(bench_summarize(&r->p50));
			out_csv_summary(bench_summarize(&r->p99));
			out_csv_summary(bench_summarize(&r->p999));
			out_csv_summary(bench_summarize(&r->mps));
			out_csv_summary(bench_summarize(&r->mbps));
			printf(",%.3g", bench_summarize(&r->loss).med);
		}
		putchar(',');
		if (i == 0 && !row->skipped) {
			out_csv_text(base->impl->name);
		}
		if (i == 0 && out_res_ok(r) && out_res_ok(base)) {
			printf(",%.4g,%.4g", out_ratio(&r->p50, &base->p50),
			       out_ratio(&r->mps, &base->mps));
		} else {
			printf(",,");
		}
		putchar(',');
		out_csv_text(row->note);
		if (!row->skipped && out_res_ok(r)) {
			printf(",%.3g,%.3g", bench_summarize(&r->cpu_ping).med,
			       bench_summarize(&r->cpu_stream).med);
		} else {
			printf(",,");
		}
		putchar('\n');
	}
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void
out_json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			printf("\\%c", ch);
		} else if (ch < 0x20) {
			printf("\\u%04x", ch);
		} else {
			putchar(ch);
		}
	}
	putchar('"');
}

static void
out_json_num(double v)
{
	if (isfinite(v)) {
		printf("%.6g", v);
	} else {
		printf("null");
	}
}

static void
out_json_summary(const char *key, bench_summary s)
{
	printf("\"%s\": ", key);
	if (!s.valid) {
		printf("null");
		return;
	}
	printf("{\"median\": ");
	out_json_num(s.med);
	printf(", \"min\": ");
	out_json_num(s.min);
	printf(", \"max\": ");
	out_json_num(s.max);
	putchar('}');
}

static int out_json_rows;

static void
out_json_begin(const bench_config *cfg, const bench_machine *m, const char *note)
{
	printf("{\n  \"tool\": \"ipcx bench\",\n  \"version\": \"%d.%d.%d\",\n", IPCX_VERSION_MAJOR,
	       IPCX_VERSION_MINOR, IPCX_VERSION_PATCH);
	printf("  \"mode\": \"%s\",\n  \"runs\": %d,\n  \"timeout_ms\": %d,\n",
	       cfg->quick ? "quick" : "full", cfg->runs, cfg->timeout_ms);
	printf("  \"machine\": {\"cpu\": ");
	out_json_str(m->cpu_model);
	printf(", \"cpus_online\": %ld, \"cpus_allowed\": %ld, \"kernel\": ", m->cpus_online,
	       m->cpus_allowed);
	out_json_str(m->kernel);
	printf(", \"mem_mib\": %ld, \"compiler\": ", m->mem_mib);
	out_json_str(m->compiler);
	printf(", \"loadavg_start\": ");
	out_json_str(m->load);
	printf("},\n  \"pinned_cpus\": ");
	if (cfg->cpu[0] >= 0) {
		printf("[%d, %d]", cfg->cpu[0], cfg->cpu[1]);
	} else {
		printf("null");
	}
	printf(",\n  \"note\": ");
	out_json_str(note != NULL ? note : "");
	printf(",\n  \"units\": {\"rtt\": \"us\", \"msgs_per_s\": \"messages/s\", \"mb_per_s\": "
	       "\"10^6 bytes/s\", \"loss\": \"percent\", \"cpu\": \"percent of one CPU, both "
	       "workers\"},\n");
	printf("  \"results\": [");
	out_json_rows = 0;
}

static void
out_json_result(const bench_result *r, int role)
{
	printf("{\"impl\": ");
	out_json_str(r->impl->name);
	printf(", \"role\": \"%s\", \"status\": \"%s\", \"error\": ",
	       role == 0 ? "ipcx" : "baseline", r->failed ? "failed" : "ok");
	if (r->failed) {
		out_json_str(r->err);
	} else {
		printf("null");
	}
	if (out_res_ok(r)) {
		printf(", \"runs\": %d, \"round_trips\": %llu,\n         \"rtt_us\": {", r->p50.n,
		       (unsigned long long)r->samples);
		out_json_summary("p50", bench_summarize(&r->p50));
		printf(", ");
		out_json_summary("p99", bench_summarize(&r->p99));
		printf(", ");
		out_json_summary("p99.9", bench_summarize(&r->p999));
		printf("},\n         \"stream\": {");
		out_json_summary("msgs_per_s", bench_summarize(&r->mps));
		printf(", ");
		out_json_summary("mb_per_s", bench_summarize(&r->mbps));
		printf(", ");
		out_json_summary("loss_pct", bench_summarize(&r->loss));
		printf("},\n         \"cpu_pct\": {");
		out_json_summary("pingpong", bench_summarize(&r->cpu_ping));
		printf(", ");
		out_json_summary("stream", bench_summarize(&r->cpu_stream));
		putchar('}');
	}
	putchar('}');
}

static void
out_json_row(const bench_row *row)
{
	const bench_result *ix = &row->res[0], *raw = &row->res[1];

	printf("%s\n    {\"scheme\": ", out_json_rows++ ? "," : "");
	out_json_str(row->scheme);
	printf(", \"url\": ");
	out_json_str(row->url);
	printf(", \"size\": %zu, \"status\": \"%s\", \"note\": ", row->size,
	       row->skipped                  ? "skipped"
	       : (ix->failed || raw->failed) ? "failed"
	                                     : "ok");
	out_json_str(row->note);
	if (!row->skipped) {
		printf(",\n     \"impls\": [\n        ");
		for (int i = 0; i < row->nres; i++) {
			if (i > 0) {
				printf(",\n        ");
			}
			out_json_result(&row->res[i], i);
		}
		printf("],\n     \"ratio\": ");
		if (out_res_ok(ix) && out_res_ok(raw)) {
			printf("{\"rtt_p50\": ");
			out_json_num(out_ratio(&ix->p50, &raw->p50));
			printf(", \"msgs_per_s\": ");
			out_json_num(out_ratio(&ix->mps, &raw->mps));
			putchar('}');
		} else {
			printf("null");
		}
	}
	putchar('}');
}

/* ---- dispatch ----------------------------------------------------------------------- */

void
bench_out_begin(const bench_config *cfg, const bench_machine *m, const char *note)
{
	switch (cfg->format) {
	case BENCH_TABLE:
		out_table_begin(cfg, m, note);
		break;
	case BENCH_CSV:
		out_csv_begin();
		break;
	case BENCH_JSON:
		out_json_begin(cfg, m, note);
		break;
	}
	fflush(stdout);
}

void
bench_out_row(const bench_config *cfg, const bench_row *row)
{
	switch (cfg->format) {
	case BENCH_TABLE:
		out_table_row(cfg, row);
		break;
	case BENCH_CSV:
		out_csv_row(row);
		break;
	case BENCH_JSON:
		out_json_row(row);
		break;
	}
	fflush(stdout);
}

void
bench_out_end(const bench_config *cfg, int nrows, int nfailed, double elapsed_s)
{
	char load[64];

	bench_loadavg(load, sizeof load);
	switch (cfg->format) {
	case BENCH_TABLE:
		printf("\n%d rows, %d with a failure, %.1f s; load %s\n", nrows, nfailed, elapsed_s,
		       load);
		break;
	case BENCH_CSV:
		break;
	case BENCH_JSON:
		printf("\n  ],\n  \"rows\": %d,\n  \"failed\": %d,\n  \"elapsed_s\": %.2f,\n"
		       "  \"loadavg_end\": \"%s\"\n}\n",
		       nrows, nfailed, elapsed_s, load);
		break;
	}
	fflush(stdout);
}
