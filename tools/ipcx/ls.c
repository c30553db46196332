/*
 * ls.c - `ipcx ls`: one table (or one JSON document) of the IPC objects on this machine,
 * ipcx's own by default, every one the user may see with --all, with creator and liveness.
 */
#include "cmd.h"
#include "util.h"

#include "ipcx.h"

#include <getopt.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LS_CMD "ls"

static void
ls_help(void)
{
	printf("Usage: %s ls [--all] [--json]\n"
	       "\n"
	       "List IPC objects: POSIX message queues (/dev/mqueue), POSIX shared memory and\n"
	       "named semaphores (/dev/shm), System V message queues, segments and semaphore\n"
	       "sets (/proc/sysvipc), and the FIFOs, sockets and file:// logs ipcx created.\n"
	       "Without --all only the objects ipcx made are listed.\n"
	       "\n"
	       "Columns:\n"
	       "  KIND     posix-mq, posix-shm, posix-sem, sysv-msg, sysv-shm, sysv-sem, fifo,\n"
	       "           socket, file\n"
	       "  NAME     POSIX name, System V key (0x...; id:N for private objects) or path;\n"
	       "           '%s rm KIND:NAME' removes it\n"
	       "  PERSIST  kernel (until removed or reboot) or filesystem (survives reboot)\n"
	       "  OWNER    owning user\n"
	       "  MODE     permission bits\n"
	       "  SIZE     bytes: queued message bytes, segment or file size\n"
	       "  COUNT    messages queued, semaphore value, processes attached (sysv-shm)\n"
	       "  CREATOR  pid of the process that made it, when ipcx recorded it\n"
	       "  STATE    alive, dead (gone, or its pid reused) or unknown; '%s rm --stale'\n"
	       "           removes ipcx objects whose creator is dead\n"
	       "A '-' is a value that is not known (or not readable for this user).\n"
	       "\n"
	       "Options:\n"
	       "  -a, --all   every object this user can see, not only ipcx's\n"
	       "  -j, --json  one JSON document: {\"objects\": [...]}, each object with kind,\n"
	       "              name (KIND:NAME), persistence, owner (uid), user, mode (an octal\n"
	       "              string), size, count, creator, state and ours (true/false); null\n"
	       "              for a value not known; and \"note\" when part of the system\n"
	       "              could not be looked at\n"
	       "  -h, --help  show this help and exit\n"
	       "\n"
	       "Exit status: 0 on success, 1 if nothing could be listed, 2 on a usage error.\n",
	       CLI_PROG, CLI_PROG, CLI_PROG);
}

static const char *
ls_state_name(int state)
{
	switch (state) {
	case IPCX_OBJ_ALIVE:
		return "alive";
	case IPCX_OBJ_DEAD:
		return "dead";
	default:
		return "unknown";
	}
}

/* The name without its "KIND:" prefix. */
static const char *
ls_bare_name(const ipcx_obj_info *o)
{
	const char *colon = strchr(o->name, ':');

	return colon != NULL ? colon + 1 : o->name;
}

/* The user name of uid, or NULL. */
static const char *
ls_user(uid_t uid)
{
	struct passwd *pw;

	if (uid == (uid_t)-1 || (pw = getpwuid(uid)) == NULL) {
		return NULL;
	}
	return pw->pw_name;
}

/* ---- JSON ------------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (NUL-terminated), or 0. */
static size_t
ls_utf8_len(const unsigned char *s)
{
	size_t n;
	unsigned cp;

	if (s[0] < 0x80) {
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			return 0;
		}
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and code points past U+10FFFF are not UTF-8 */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff)) {
		return 0;
	}
	return n;
}

/* A JSON string. Names are bytes, not text: a byte that is not part of valid UTF-8 is
 * written as the code point of the same value (\u00XX), so the document stays valid. */
static void
ls_json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putchar('"');
	while (*p != '\0') {
		size_t n = ls_utf8_len(p);
		if (*p == '"' || *p == '\\') {
			printf("\\%c", *p);
		} else if (*p == '\n') {
			fputs("\\n", stdout);
		} else if (*p == '\t') {
			fputs("\\t", stdout);
		} else if (*p < 0x20 || *p == 0x7f || n == 0) {
			printf("\\u%04x", *p);
		} else {
			fwrite(p, 1, n, stdout);
			p += n;
			continue;
		}
		p++;
	}
	putchar('"');
}

static void
ls_json_num(long long v)
{
	if (v < 0) {
		fputs("null", stdout);
	} else {
		printf("%lld", v);
	}
}

static void
ls_json(const ipcx_obj_info *v, size_t n, const char *note)
{
	fputs("{\"objects\": [", stdout);
	for (size_t i = 0; i < n; i++) {
		const ipcx_obj_info *o = &v[i];
		const char *user = ls_user(o->owner);
		printf("%s\n  {\"kind\": ", i > 0 ? "," : "");
		ls_json_str(ipcx_obj_kind_name(o->kind));
		fputs(", \"name\": ", stdout);
		ls_json_str(o->name);
		printf(", \"persistence\": \"%s\", \"owner\": ",
		       ipcx_persistence_name(o->persistence));
		ls_json_num(o->owner == (uid_t)-1 ? -1 : (long long)o->owner);
		fputs(", \"user\": ", stdout);
		if (user != NULL) {
			ls_json_str(user);
		} else {
			fputs("null", stdout);
		}
		printf(", \"mode\": \"%04o\", \"size\": ", o->mode);
		ls_json_num(o->size);
		fputs(", \"count\": ", stdout);
		ls_json_num(o->count);
		fputs(", \"creator\": ", stdout);
		ls_json_num(o->creator > 0 ? (long long)o->creator : -1);
		printf(", \"state\": \"%s\", \"ours\": %s}", ls_state_name(o->state),
		       o->ours ? "true" : "false");
	}
	fputs(n > 0 ? "\n]" : "]", stdout);
	if (note[0] != '\0') {
		fputs(", \"note\": ", stdout);
		ls_json_str(note);
	}
	fputs("}\n", stdout);
}

/* ---- the table ------------------------------------------------------------------------- */

enum {
	COL_KIND,
	COL_NAME,
	COL_PERSIST,
	COL_OWNER,
	COL_MODE,
	COL_SIZE,
	COL_COUNT,
	COL_CREATOR,
	COL_STATE,
	NCOLS
};

static const char *const ls_heads[NCOLS] = {"KIND", "NAME",  "PERSIST", "OWNER", "MODE",
                                            "SIZE", "COUNT", "CREATOR", "STATE"};

/* A name as one table cell: bytes that would break the line or the columns as \xHH. */
static char *
ls_cell_name(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(4 * n + 1), *o = out;

	if (out == NULL) {
		return NULL;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '\\') {
			o += sprintf(o, "\\x%02x", *p);
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return out;
}

static void
ls_num_cell(char *buf, size_t cap, long long v)
{
	if (v < 0) {
		snprintf(buf, cap, "-");
	} else {
		snprintf(buf, cap, "%lld", v);
	}
}

static int
ls_table(const ipcx_obj_info *v, size_t n)
{
	/* cells of every row, then widths, then print: names can be long */
	char(*cells)[NCOLS][32] = calloc(n ? n : 1, sizeof *cells);
	char **names = calloc(n ? n : 1, sizeof *names);
	size_t width[NCOLS];
	int rv = 0;

	if (cells == NULL || names == NULL) {
		rv = IPCX_ENOMEM;
		goto out;
	}
	for (int k = 0; k < NCOLS; k++) {
		width[k] = strlen(ls_heads[k]);
	}
	for (size_t i = 0; i < n; i++) {
		const ipcx_obj_info *o = &v[i];
		const char *user = ls_user(o->owner);
		if ((names[i] = ls_cell_name(ls_bare_name(o))) == NULL) {
			rv = IPCX_ENOMEM;
			goto out;
		}
		snprintf(cells[i][COL_KIND], 32, "%s", ipcx_obj_kind_name(o->kind));
		snprintf(cells[i][COL_PERSIST], 32, "%s", ipcx_persistence_name(o->persistence));
		if (user != NULL && strlen(user) < 32) {
			snprintf(cells[i][COL_OWNER], 32, "%s", user);
		} else {
			ls_num_cell(cells[i][COL_OWNER], 32,
			            o->owner == (uid_t)-1 ? -1 : (long long)o->owner);
		}
		if (o->owner == (uid_t)-1) {
			snprintf(cells[i][COL_MODE], 32, "-");
		} else {
			snprintf(cells[i][COL_MODE], 32, "%04o", o->mode);
		}
		ls_num_cell(cells[i][COL_SIZE], 32, o->size);
		ls_num_cell(cells[i][COL_COUNT], 32, o->count);
		ls_num_cell(cells[i][COL_CREATOR], 32, o->creator > 0 ? (long long)o->creator : -1);
		snprintf(cells[i][COL_STATE], 32, "%s", ls_state_name(o->state));
		for (int k = 0; k < NCOLS; k++) {
			size_t w = strlen(k == COL_NAME ? names[i] : cells[i][k]);
			width[k] = w > width[k] ? w : width[k];
		}
	}
	for (size_t i = 0; i <= n; i++) {
		for (int k = 0; k < NCOLS; k++) {
			const char *s = i == 0          ? ls_heads[k]
			                : k == COL_NAME ? names[i - 1]
			                                : cells[i - 1][k];
			bool right = k == COL_SIZE || k == COL_COUNT || k == COL_CREATOR;
			if (k == NCOLS - 1) {
				printf("%s\n", s);
			} else if (right) {
				printf("%*s  ", (int)width[k], s);
			} else {
				printf("%-*s  ", (int)width[k], s);
			}
		}
	}
out:
	for (size_t i = 0; names != NULL && i < n; i++) {
		free(names[i]);
	}
	free(names);
	free(cells);
	return rv;
}

int
ipcx_cmd_ls(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"all", no_argument, NULL, 'a'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	char note[512];
	ipcx_obj_info *v;
	bool json = false;
	int flags = 0, ch, rv;
	size_t n;

	while ((ch = getopt_long(argc, argv, ":ajh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			flags |= IPCX_LIST_ALL;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			ls_help();
			return IPCX_EXIT_OK;
		default:
			return cli_getopt_error(LS_CMD, ch, argv);
		}
	}
	if (optind < argc) {
		return cli_usage_error(LS_CMD, "unexpected argument '%s'", argv[optind]);
	}
	if ((rv = ipcx_obj_list(&v, &n, flags)) != 0) {
		cli_error(NULL, "list objects", rv);
		return IPCX_EXIT_RUNTIME;
	}
	/* what the listing could not look at (valid until the next ipcx call) */
	snprintf(note, sizeof note, "%s", ipcx_errdetail());
	if (json) {
		ls_json(v, n, note);
	} else {
		if (note[0] != '\0') {
			/* the table goes on; what it could not cover is said once, on stderr */
			cli_errorf("ls: note: %s", note);
		}
		rv = ls_table(v, n);
	}
	free(v);
	if (rv != 0) {
		cli_error(NULL, "list objects", rv);
		return IPCX_EXIT_RUNTIME;
	}
	return IPCX_EXIT_OK;
}
