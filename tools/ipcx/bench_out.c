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
	return r->impl != NULL && !r->failed && !r->skipped && (r->p50.n > 0 || r->mps.n > 0);
}

static bool
out_has_rtt(const bench_result *r)
{
	return out_res_ok(r) && r->p50.n > 0;
}

static bool
out_has_mps(const bench_result *r)
{
	return out_res_ok(r) && r->mps.n > 0;
}

/* The result a result's x is against (round trips or messages/s), or NULL. */
static const bench_result *
out_ref(const bench_row *row, const bench_result *r, bool mps)
{
	int k = mps ? r->ref_mps : r->ref_rtt;

	return k >= 0 && k < row->nres && &row->res[k] != r ? &row->res[k] : NULL;
}

static const char *
out_kind(const bench_result *r)
{
	return r->kind == BENCH_KIND_IPCX   ? "ipcx"
	       : r->kind == BENCH_KIND_PEER ? "peer"
	                                    : "baseline";
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

/* A line on CPU use where a result's costs clearly more than its reference's (a side that
 * waits busily buys latency with CPU time: the table must not show only the latency). */
static void
out_table_cpu(const bench_result *ix, const bench_result *raw, const char *what, int stream)
{
	bench_summary a, b;

	if (raw == NULL ||
	    !(stream ? out_has_mps(ix) && out_has_mps(raw) : out_has_rtt(ix) && out_has_rtt(raw))) {
		return;
	}
	a = bench_summarize(stream ? &ix->cpu_stream : &ix->cpu_ping);
	b = bench_summarize(stream ? &raw->cpu_stream : &raw->cpu_ping);
	if (a.valid && b.valid && a.med > 1.5 * b.med && a.med - b.med >= 20) {
		printf("        cpu in %s (both workers, %% of one CPU): %s %.0f%%, %s %.0f%%\n",
		       what, ix->impl->name, a.med, raw->impl->name, b.med);
	}
}

/* The figures of one result and of what it is held to: "p50 ± p99 [p99.9] ref ± x | msgs/s ±
 * MB/s ref ± x". A missing figure is "-", a failed result "FAILED". */
static void
out_table_figures(const bench_config *cfg, const bench_result *ix, const bench_result *rr,
                  const bench_result *rm)
{
	char a[32], b[32], c[32], d[32], e[32], f[32], g[32];
	bench_summary s;

	if (out_has_rtt(ix)) {
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
		printf("%9s %5s %9s", ix->failed ? "FAILED" : "-", "", "");
		if (!cfg->quick) {
			printf(" %9s", "");
		}
	}
	if (rr != NULL && out_has_rtt(rr)) {
		s = bench_summarize(&rr->p50);
		out_fmt_us(a, sizeof a, s.med);
		out_fmt_spread(b, sizeof b, s);
		printf(" %9s %5s", a, b);
	} else {
		printf(" %9s %5s", rr == NULL ? "" : rr->failed ? "FAILED" : "-", "");
	}
	if (rr != NULL && out_has_rtt(ix) && out_has_rtt(rr)) {
		snprintf(a, sizeof a, "%.2f", out_ratio(&ix->p50, &rr->p50));
	} else {
		snprintf(a, sizeof a, rr == NULL ? "" : "-");
	}
	printf(" %6s |", a);
	if (out_has_mps(ix)) {
		s = bench_summarize(&ix->mps);
		out_fmt_si(e, sizeof e, s.med);
		out_fmt_spread(f, sizeof f, s);
		out_fmt_us(g, sizeof g, bench_summarize(&ix->mbps).med);
		printf(" %8s %5s %8s", e, f, g);
	} else {
		printf(" %8s %5s %8s", "-", "", "");
	}
	if (rm != NULL && out_has_mps(rm)) {
		s = bench_summarize(&rm->mps);
		out_fmt_si(e, sizeof e, s.med);
		out_fmt_spread(f, sizeof f, s);
		printf(" %8s %5s", e, f);
	} else {
		printf(" %8s %5s", rm == NULL ? "" : rm->failed ? "FAILED" : "-", "");
	}
	if (rm != NULL && out_has_mps(ix) && out_has_mps(rm)) {
		snprintf(a, sizeof a, "%.2f", out_ratio(&ix->mps, &rm->mps));
	} else {
		snprintf(a, sizeof a, rm == NULL ? "" : "-");
	}
	printf(" %6s\n", a);
}

static void
out_table_loss(const bench_row *row)
{
	const char *sep = "        stream loss: ";
	bool any = false;

	for (int i = 0; i < row->nres; i++) {
		bench_summary l = bench_summarize(&row->res[i].loss);
		if (out_res_ok(&row->res[i]) && l.valid && l.max > 0) {
			printf("%s%s %.1f%% (%.1f-%.1f)", sep, row->res[i].impl->name, l.med, l.min,
			       l.max);
			sep = ", ";
			any = true;
		}
	}
	if (any) {
		printf("; msgs/s counts what arrived\n");
	}
}

/* A group's heading: what each member's x is against at this size. */
static void
out_table_group_head(const bench_row *row)
{
	char sz[32];
	const char *sep = "; x: rtt vs ";

	bench_fmt_size(sz, sizeof sz, row->size);
	printf("-- %s, %s", row->scheme, sz);
	for (int pass = 0; pass < 2; pass++) {
		const bench_result *seen[BENCH_IMPLS];
		int nseen = 0;
		for (int i = 0; i < row->nres; i++) {
			const bench_result *ref = out_ref(row, &row->res[i], pass == 1),
			                   *who[BENCH_IMPLS];
			int nwho = 0, all = 0;
			bool dup = false;
			for (int k = 0; k < nseen; k++) {
				dup = dup || seen[k] == ref;
			}
			if (ref == NULL || dup) {
				continue;
			}
			seen[nseen++] = ref;
			for (int k = 0; k < row->nres; k++) {
				const bench_result *o = out_ref(row, &row->res[k], pass == 1);
				all += o != NULL;
				if (o == ref) {
					who[nwho++] = &row->res[k];
				}
			}
			printf("%s%s", sep, ref->label);
			if (nwho < all) {
				printf(" (");
				for (int k = 0; k < nwho; k++) {
					printf("%s%s", k ? ", " : "", who[k]->label);
				}
				printf(")");
			}
			sep = ", vs ";
		}
		sep = "; msgs/s vs ";
	}
	if (row->nres > 0 && row->res[0].kind == BENCH_KIND_PEER) {
		printf("; the peers against ipcx: in the targets below");
	}
	printf("\n");
}

static void
out_table_row(const bench_config *cfg, const bench_row *row)
{
	char size[32];

	bench_fmt_size(size, sizeof size, row->size);
	if (row->group) {
		out_table_group_head(row);
	}
	for (int i = 0; i < (row->group ? row->nres : 1); i++) {
		const bench_result *r = &row->res[i];
		printf("%-9s %-7s ", row->group ? r->label : row->scheme, size);
		if (row->skipped || r->skipped) {
			printf("skipped: %s\n", row->skipped ? row->note : r->err);
			continue;
		}
		out_table_figures(cfg, r, out_ref(row, r, false), out_ref(row, r, true));
		for (int k = 0; k < row->nres; k++) {
			if (row->res[k].failed && (row->group ? k == i : true)) {
				printf("        %s failed: %s\n", row->res[k].impl->name,
				       row->res[k].err);
			}
		}
		if (r->loan_max > 0 && row->size > r->loan_max) {
			printf("        note: above ipcx_loan_max() = %llu B: sent with ipcx_send, "
			       "received with ipcx_recv_view\n",
			       (unsigned long long)r->loan_max);
		}
		out_table_cpu(r, out_ref(row, r, false), "ping-pong", 0);
		out_table_cpu(r, out_ref(row, r, true), "stream", 1);
	}
	out_table_loss(row);
	if (row->note[0] != '\0' && !row->skipped) {
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
	       "cpu_stream_pct,baseline_msgs\n");
}

static void
out_csv_ratio(const bench_series *a, const bench_series *b)
{
	double x = a->n > 0 && b->n > 0 ? out_ratio(a, b) : NAN;

	if (isfinite(x)) {
		printf(",%.4g", x);
	} else {
		printf(",");
	}
}

/* One line per result; in a group row the scheme column names the member. The baseline
 * column names what the round trip's ratio is against, baseline_msgs the stream's. */
static void
out_csv_row(const bench_row *row)
{
	for (int i = 0; i < (row->skipped ? 1 : row->nres); i++) {
		const bench_result *r = &row->res[i];
		const bench_result *rr = out_ref(row, r, false), *rm = out_ref(row, r, true);
		bool skipped = row->skipped || r->skipped;
		const char *status = skipped ? "skipped" : r->failed ? "failed" : "ok";
		printf("%s,%zu,", row->group ? r->label : row->scheme, row->size);
		out_csv_text(row->skipped ? "" : r->impl->name);
		printf(",%s,%s,", row->skipped ? "" : out_kind(r), status);
		out_csv_text(r->failed || r->skipped ? r->err : "");
		if (skipped || !out_res_ok(r)) {
			printf(",,,,,,,,,,,,,,,,,,"); /* runs, round trips, 5 x 3 summaries, loss */
		} else {
			printf(",%d,%llu", r->p50.n > r->mps.n ? r->p50.n : r->mps.n,
			       (unsigned long long)r->samples);
			out_csv_summary(bench_summarize(&r->p50));
			out_csv_summary(bench_summarize(&r->p99));
			out_csv_summary(bench_summarize(&r->p999));
			out_csv_summary(bench_summarize(&r->mps));
			out_csv_summary(bench_summarize(&r->mbps));
			if (r->mps.n > 0) {
				printf(",%.3g", bench_summarize(&r->loss).med);
			} else {
				printf(",");
			}
		}
		putchar(',');
		if (rr != NULL && !skipped) {
			out_csv_text(rr->impl->name);
		}
		if (rr != NULL && !skipped && out_res_ok(r) && out_res_ok(rr)) {
			out_csv_ratio(&r->p50, &rr->p50);
		} else {
			printf(",");
		}
		if (rm != NULL && !skipped && out_res_ok(r) && out_res_ok(rm)) {
			out_csv_ratio(&r->mps, &rm->mps);
		} else {
			printf(",");
		}
		putchar(',');
		out_csv_text(row->note);
		if (!skipped && out_res_ok(r)) {
			bench_summary cp = bench_summarize(&r->cpu_ping);
			bench_summary cs = bench_summarize(&r->cpu_stream);
			printf(cp.valid ? ",%.3g" : ",", cp.med);
			printf(cs.valid ? ",%.3g" : ",", cs.med);
		} else {
			printf(",,");
		}
		putchar(',');
		if (rm != NULL && !skipped) {
			out_csv_text(rm->impl->name);
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

/* A ratio against another result, or null where either lacks the figure. */
static void
out_json_ratio(const bench_series *a, const bench_series *b)
{
	out_json_num(a->n > 0 && b->n > 0 ? out_ratio(a, b) : NAN);
}

static void
out_json_result(const bench_row *row, const bench_result *r)
{
	const bench_result *rr = out_ref(row, r, false), *rm = out_ref(row, r, true);

	printf("{\"impl\": ");
	out_json_str(r->impl->name);
	if (row->group) {
		printf(", \"label\": ");
		out_json_str(r->label);
	}
	printf(", \"role\": \"%s\", \"status\": \"%s\", \"error\": ", out_kind(r),
	       r->skipped  ? "skipped"
	       : r->failed ? "failed"
	                   : "ok");
	if (r->failed || r->skipped) {
		out_json_str(r->err);
	} else {
		printf("null");
	}
	if (r->loan_max > 0) {
		printf(", \"loan_max\": %llu", (unsigned long long)r->loan_max);
	}
	if (out_res_ok(r)) {
		printf(", \"runs\": %d, \"round_trips\": %llu,\n         \"rtt_us\": {",
		       r->p50.n > r->mps.n ? r->p50.n : r->mps.n, (unsigned long long)r->samples);
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
		if (row->group && (rr != NULL || rm != NULL)) {
			printf(",\n         \"ratio\": {\"rtt_p50\": ");
			if (rr != NULL && out_res_ok(rr)) {
				out_json_ratio(&r->p50, &rr->p50);
			} else {
				printf("null");
			}
			printf(", \"rtt_vs\": ");
			out_json_str(rr != NULL ? rr->label : "");
			printf(", \"msgs_per_s\": ");
			if (rm != NULL && out_res_ok(rm)) {
				out_json_ratio(&r->mps, &rm->mps);
			} else {
				printf("null");
			}
			printf(", \"msgs_vs\": ");
			out_json_str(rm != NULL ? rm->label : "");
			putchar('}');
		}
	}
	putchar('}');
}

static void
out_json_row(const bench_row *row)
{
	const bench_result *ix = &row->res[0], *raw = &row->res[1];
	bool failed = false;

	for (int i = 0; i < row->nres; i++) {
		failed = failed || row->res[i].failed;
	}
	printf("%s\n    {\"scheme\": ", out_json_rows++ ? "," : "");
	out_json_str(row->scheme);
	printf(", \"url\": ");
	out_json_str(row->url);
	printf(", \"size\": %zu, \"group\": %s, \"status\": \"%s\", \"note\": ", row->size,
	       row->group ? "true" : "false",
	       row->skipped ? "skipped"
	       : failed     ? "failed"
	                    : "ok");
	out_json_str(row->note);
	if (!row->skipped) {
		printf(",\n     \"impls\": [\n        ");
		for (int i = 0; i < row->nres; i++) {
			if (i > 0) {
				printf(",\n        ");
			}
			out_json_result(row, &row->res[i]);
		}
		putchar(']');
		if (!row->group) {
			printf(",\n     \"ratio\": ");
			if (out_res_ok(ix) && out_res_ok(raw)) {
				printf("{\"rtt_p50\": ");
				out_json_ratio(&ix->p50, &raw->p50);
				printf(", \"msgs_per_s\": ");
				out_json_ratio(&ix->mps, &raw->mps);
				putchar('}');
			} else {
				printf("null");
			}
		}
	}
	putchar('}');
}

/* ---- the performance targets of issue 4, from this run's rows ----------------------------- */

enum out_metric { OUT_RTT, OUT_MPS };

typedef struct out_target {
	const char *text;  /* what is held to what */
	const char *a, *b; /* labels; "unix:raw" is the raw baseline of unix's own row */
	size_t size;
	int metric;   /* enum out_metric */
	double limit; /* the ratio a / b must reach */
	bool at_most; /* met when ratio <= limit (round trips), else >= limit */
} out_target;

static const out_target out_targets[] = {
        {"shm@spin rtt p50 <= 1.2x the cache-line floor", "shm@spin", "floor", 64, OUT_RTT, 1.2,
         true},
        {"shm@block rtt p50 <= 1.1x a raw futex ping-pong", "shm@block", "futex", 64, OUT_RTT, 1.1,
         true},
        {"shm (adaptive) rtt p50 <= 1.2x shm@spin, messages flowing", "shm", "shm@spin", 64,
         OUT_RTT, 1.2, true},
        {"shm msgs/s at 64 B >= 2x the naive SPSC ring", "shm", "ring", 64, OUT_MPS, 2, false},
        {"shm MB/s at 1 MiB >= 0.8x one thread's memcpy", "shm", "memcpy", (size_t)1 << 20, OUT_MPS,
         0.8, false},
        {"shm+loan msgs/s at 1 MiB >= 1.5x the copying path", "shm+loan", "shm", (size_t)1 << 20,
         OUT_MPS, 1.5, false},
        {"shm+loan msgs/s at 1 MiB >= iceoryx zero-copy", "shm+loan", "iceoryx", (size_t)1 << 20,
         OUT_MPS, 1, false},
        {"shm msgs/s >= 100x nng pair0 ipc", "shm", "nng-ipc", 64, OUT_MPS, 100, false},
        {"shm msgs/s >= 3x ZeroMQ PAIR ipc", "shm", "zmq-ipc", 64, OUT_MPS, 3, false},
        {"shm msgs/s >= 20x iceoryx", "shm", "iceoryx", 64, OUT_MPS, 20, false},
        {"shm rtt p50 <= 0.25x iceoryx busy polling", "shm", "iceoryx", 64, OUT_RTT, 0.25, true},
        {"unix rtt p50 <= 0.3x nng pair0 ipc", "unix", "nng-ipc", 64, OUT_RTT, 0.3, true},
        {"tcp rtt p50 <= 0.3x nng pair0 tcp", "tcp", "nng-tcp", 64, OUT_RTT, 0.3, true},
        {"unix rtt p50 within 5% of raw seqpacket", "unix", "unix:raw", 64, OUT_RTT, 1.05, true},
        {"tcp rtt p50 within 5% of raw TCP", "tcp", "tcp:raw", 64, OUT_RTT, 1.05, true},
        /* the same targets met by retrying before poll (?wait=adaptive) */
        {"unix@adaptive rtt p50 <= 0.3x nng pair0 ipc", "unix@adaptive", "nng-ipc", 64, OUT_RTT,
         0.3, true},
        {"tcp@adaptive rtt p50 <= 0.3x nng pair0 tcp", "tcp@adaptive", "nng-tcp", 64, OUT_RTT, 0.3,
         true},
};
#define OUT_NTARGETS (sizeof out_targets / sizeof out_targets[0])

/* The result labelled name at size ("unix:raw": the baseline of unix's own row). */
static const bench_result *
out_find(const bench_row *rows, int nrows, const char *name, size_t size, const bench_row **in)
{
	size_t n = strcspn(name, ":");
	bool raw = name[n] == ':';

	for (int i = 0; i < nrows; i++) {
		const bench_row *row = &rows[i];
		if (row->size != size || row->skipped) {
			continue;
		}
		for (int k = 0; k < row->nres; k++) {
			const bench_result *r = &row->res[k];
			if (r->label == NULL || strlen(r->label) != n ||
			    strncmp(r->label, name, n) != 0) {
				continue;
			}
			if (row->group ? !raw : (r->kind == BENCH_KIND_BASE) == raw) {
				*in = row;
				return r;
			}
		}
	}
	return NULL;
}

static bool
out_is_peer(const char *name)
{
	return strncmp(name, "nng-", 4) == 0 || strncmp(name, "zmq-", 4) == 0 ||
	       strcmp(name, "iceoryx") == 0;
}

typedef struct out_verdict {
	double ratio; /* NAN: not measured */
	const char *status;
	char why[160];
	bool same_row; /* measured back to back (per-run ratios), else ratio of medians */
	bool no_peer;  /* not measured because --peers was not given */
} out_verdict;

static bool
out_judge(const bench_row *rows, int nrows, const out_target *t, out_verdict *v)
{
	const bench_row *ra = NULL, *rb = NULL;
	const bench_result *a = out_find(rows, nrows, t->a, t->size, &ra);
	const bench_result *b = out_find(rows, nrows, t->b, t->size, &rb);
	const bench_series *sa, *sb;
	char sz[32];

	memset(v, 0, sizeof *v);
	v->ratio = NAN;
	v->status = "not measured";
	if (a == NULL && b == NULL) {
		return false; /* neither side in this run: not worth a line */
	}
	bench_fmt_size(sz, sizeof sz, t->size);
	if (a == NULL || b == NULL || !out_res_ok(a) || !out_res_ok(b)) {
		const bench_result *m = a == NULL || !out_res_ok(a) ? a : b;
		const char *name = a == NULL || !out_res_ok(a) ? t->a : t->b;
		v->no_peer = m == NULL && out_is_peer(name);
		snprintf(v->why, sizeof v->why, "%s at %s %s", name, sz,
		         m == NULL    ? "not in this run"
		         : m->skipped ? "skipped"
		         : m->failed  ? "failed"
		                      : "without figures");
		return true;
	}
	sa = t->metric == OUT_RTT ? &a->p50 : &a->mps;
	sb = t->metric == OUT_RTT ? &b->p50 : &b->mps;
	if (sa->n == 0 || sb->n == 0) {
		snprintf(v->why, sizeof v->why, "no %s figure",
		         t->metric == OUT_RTT ? "rtt" : "msgs/s");
		return true;
	}
	v->same_row = ra == rb;
	v->ratio =
	        v->same_row ? out_ratio(sa, sb) : bench_summarize(sa).med / bench_summarize(sb).med;
	if (!isfinite(v->ratio)) {
		return true;
	}
	v->status = (t->at_most ? v->ratio <= t->limit : v->ratio >= t->limit) ? "met" : "NOT MET";
	return true;
}

static void
out_table_targets(const bench_row *rows, int nrows)
{
	bool head = false;
	int no_peer = 0;

	for (size_t i = 0; i < OUT_NTARGETS; i++) {
		out_verdict v;
		char x[32];
		if (!out_judge(rows, nrows, &out_targets[i], &v)) {
			continue;
		}
		if (v.no_peer) {
			no_peer++;
			continue;
		}
		if (!head) {
			printf("\ntargets (issue 4; 64 B unless said; x = a / b in this run: back "
			       "to "
			       "back where * , else medians of two rows):\n");
			head = true;
		}
		if (isfinite(v.ratio)) {
			snprintf(x, sizeof x, "%.3gx%s", v.ratio, v.same_row ? "*" : "");
		} else {
			snprintf(x, sizeof x, "-");
		}
		printf("  %-58s %9s  %s%s%s\n", out_targets[i].text, x, v.status,
		       v.why[0] ? ": " : "", v.why);
	}
	if (no_peer > 0) {
		printf("  (%d more against nng, ZeroMQ and iceoryx: ipcx bench --peers)\n",
		       no_peer);
	}
}

static void
out_json_targets(const bench_row *rows, int nrows)
{
	int n = 0;

	printf("\n  ],\n  \"targets\": [");
	for (size_t i = 0; i < OUT_NTARGETS; i++) {
		const out_target *t = &out_targets[i];
		out_verdict v;
		if (!out_judge(rows, nrows, t, &v)) {
			continue;
		}
		printf("%s\n    {\"target\": ", n++ ? "," : "");
		out_json_str(t->text);
		printf(", \"a\": ");
		out_json_str(t->a);
		printf(", \"b\": ");
		out_json_str(t->b);
		printf(", \"size\": %zu, \"metric\": \"%s\", \"limit\": ", t->size,
		       t->metric == OUT_RTT ? "rtt_p50" : "msgs_per_s");
		out_json_num(t->limit);
		printf(", \"at_most\": %s, \"ratio\": ", t->at_most ? "true" : "false");
		out_json_num(v.ratio);
		printf(", \"back_to_back\": %s, \"status\": ", v.same_row ? "true" : "false");
		out_json_str(v.status);
		printf(", \"why\": ");
		out_json_str(v.why);
		putchar('}');
	}
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
bench_out_end(const bench_config *cfg, const bench_row *rows, int nrows, int nfailed,
              double elapsed_s)
{
	char load[64];

	bench_loadavg(load, sizeof load);
	switch (cfg->format) {
	case BENCH_TABLE:
		out_table_targets(rows, nrows);
		printf("\n%d rows, %d with a failure, %.1f s; load %s\n", nrows, nfailed, elapsed_s,
		       load);
		break;
	case BENCH_CSV:
		break;
	case BENCH_JSON:
		out_json_targets(rows, nrows);
		printf("\n  ],\n  \"rows\": %d,\n  \"failed\": %d,\n  \"elapsed_s\": %.2f,\n"
		       "  \"loadavg_end\": \"%s\"\n}\n",
		       nrows, nfailed, elapsed_s, load);
		break;
	}
	fflush(stdout);
}
