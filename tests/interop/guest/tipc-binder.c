/*
 * tipc-binder: creates and withdraws TIPC service bindings in the guest kernel on request,
 * so interop tests can make the kernel publish and withdraw after link-up.
 *
 *   tipc-binder serve [T L U ...]   daemon: one AF_TIPC SOCK_RDM socket holds every binding;
 *                                   commands arrive on the unix socket SOCK_PATH
 *   tipc-binder CMD ARGS...         client: sends one command line to the daemon, prints the
 *                                   reply, exits 0 when the reply starts with "ok"
 *
 * Commands (scope is "cluster" unless "node" is given as the last argument):
 *   bind T L U [node]               bind one range
 *   unbind T L U [node]             withdraw it (bind with a negative scope)
 *   bindmany T L U COUNT [node]     COUNT ranges {T, L+i*W, U+i*W}, W = U-L+1, i = 0..COUNT-1
 *   unbindmany T L U COUNT [node]   withdraw them
 *   unbindall                       withdraw every binding this daemon made
 *   list                            one line per binding, then "ok N"
 *
 * Built with gcc -static so it runs in the busybox initramfs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/tipc.h>

#define SOCK_PATH "/run/tipc-binder.sock"
#define LINE_MAX_LEN 512

struct binding {
	unsigned int type, lower, upper;
	int scope;
};

static struct binding *bindings;
static size_t nbindings, capbindings;
static int tipc_sd = -1;

static int do_bind(unsigned int type, unsigned int lower, unsigned int upper, int scope, int unbind)
{
	struct sockaddr_tipc a;

	memset(&a, 0, sizeof(a));
	a.family = AF_TIPC;
	a.addrtype = TIPC_SERVICE_RANGE;
	a.scope = unbind ? -scope : scope;
	a.addr.nameseq.type = type;
	a.addr.nameseq.lower = lower;
	a.addr.nameseq.upper = upper;
	if (bind(tipc_sd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -errno;
	return 0;
}

static ssize_t find_binding(unsigned int type, unsigned int lower, unsigned int upper, int scope)
{
	for (size_t i = 0; i < nbindings; i++)
		if (bindings[i].type == type && bindings[i].lower == lower && bindings[i].upper == upper &&
		    bindings[i].scope == scope)
			return (ssize_t)i;
	return -1;
}

static int add_binding(unsigned int type, unsigned int lower, unsigned int upper, int scope)
{
	int rc = do_bind(type, lower, upper, scope, 0);

	if (rc < 0)
		return rc;
	if (nbindings == capbindings) {
		size_t ncap = capbindings ? capbindings * 2 : 256;
		struct binding *nb = realloc(bindings, ncap * sizeof(*nb));

		if (!nb)
			return -ENOMEM;
		bindings = nb;
		capbindings = ncap;
	}
	bindings[nbindings++] = (struct binding){ type, lower, upper, scope };
	return 0;
}

static int remove_binding(unsigned int type, unsigned int lower, unsigned int upper, int scope)
{
	ssize_t i = find_binding(type, lower, upper, scope);
	int rc;

	if (i < 0)
		return -ENOENT;
	rc = do_bind(type, lower, upper, scope, 1);
	if (rc < 0)
		return rc;
	bindings[i] = bindings[--nbindings];
	return 0;
}

/* Parses "T L U [COUNT] [node|cluster]"; returns the number of numbers read or -1. */
static int parse_args(char **argv, int argc, int want, unsigned long *nums, int *scope)
{
	char *end;

	*scope = TIPC_CLUSTER_SCOPE;
	if (argc == want + 1) {
		if (!strcmp(argv[want], "node"))
			*scope = TIPC_NODE_SCOPE;
		else if (strcmp(argv[want], "cluster"))
			return -1;
	} else if (argc != want) {
		return -1;
	}
	for (int i = 0; i < want; i++) {
		errno = 0;
		nums[i] = strtoul(argv[i], &end, 0);
		if (errno || *end || end == argv[i] || nums[i] > 0xffffffffUL)
			return -1;
	}
	return want;
}

/* Executes one command line; writes the reply into out (which ends with "\n"). */
static void execute(char *line, FILE *out)
{
	char *argv[16];
	int argc = 0, scope, rc = 0;
	unsigned long n[4];
	unsigned long done = 0;

	for (char *tok = strtok(line, " \t\r\n"); tok && argc < 16; tok = strtok(NULL, " \t\r\n"))
		argv[argc++] = tok;
	if (argc == 0) {
		fprintf(out, "err empty command\n");
		return;
	}
	if (!strcmp(argv[0], "bind") || !strcmp(argv[0], "unbind")) {
		int unbind = argv[0][0] == 'u';

		if (parse_args(argv + 1, argc - 1, 3, n, &scope) < 0 || n[1] > n[2]) {
			fprintf(out, "err usage: %s T L U [node]\n", argv[0]);
			return;
		}
		rc = unbind ? remove_binding(n[0], n[1], n[2], scope) : add_binding(n[0], n[1], n[2], scope);
		if (rc < 0)
			fprintf(out, "err %s %lu %lu %lu: %s\n", argv[0], n[0], n[1], n[2], strerror(-rc));
		else
			fprintf(out, "ok %s %lu %lu %lu\n", argv[0], n[0], n[1], n[2]);
		return;
	}
	if (!strcmp(argv[0], "bindmany") || !strcmp(argv[0], "unbindmany")) {
		int unbind = argv[0][0] == 'u';
		unsigned long width;

		if (parse_args(argv + 1, argc - 1, 4, n, &scope) < 0 || n[1] > n[2]) {
			fprintf(out, "err usage: %s T L U COUNT [node]\n", argv[0]);
			return;
		}
		width = n[2] - n[1] + 1;
		if (n[3] && (n[3] - 1) > (0xffffffffUL - n[2]) / width) {
			fprintf(out, "err %s: instances overflow 32 bits\n", argv[0]);
			return;
		}
		for (; done < n[3]; done++) {
			unsigned long lo = n[1] + done * width;

			rc = unbind ? remove_binding(n[0], lo, lo + width - 1, scope)
				    : add_binding(n[0], lo, lo + width - 1, scope);
			if (rc < 0)
				break;
		}
		if (rc < 0)
			fprintf(out, "err %s: %s after %lu of %lu\n", argv[0], strerror(-rc), done, n[3]);
		else
			fprintf(out, "ok %s %lu\n", argv[0], done);
		return;
	}
	if (!strcmp(argv[0], "unbindall") && argc == 1) {
		while (nbindings) {
			struct binding *b = &bindings[nbindings - 1];

			rc = remove_binding(b->type, b->lower, b->upper, b->scope);
			if (rc < 0)
				break;
			done++;
		}
		if (rc < 0)
			fprintf(out, "err unbindall: %s after %lu\n", strerror(-rc), done);
		else
			fprintf(out, "ok unbindall %lu\n", done);
		return;
	}
	if (!strcmp(argv[0], "list") && argc == 1) {
		for (size_t i = 0; i < nbindings; i++)
			fprintf(out, "%u %u %u %s\n", bindings[i].type, bindings[i].lower, bindings[i].upper,
				bindings[i].scope == TIPC_NODE_SCOPE ? "node" : "cluster");
		fprintf(out, "ok %zu\n", nbindings);
		return;
	}
	fprintf(out, "err unknown command %s\n", argv[0]);
}

static int serve(int argc, char **argv)
{
	struct sockaddr_un sa;
	int ls;

	tipc_sd = socket(AF_TIPC, SOCK_RDM, 0);
	if (tipc_sd < 0) {
		perror("tipc-binder: socket(AF_TIPC)");
		return 1;
	}
	for (int i = 0; i + 2 < argc; i += 3) {
		char line[LINE_MAX_LEN];

		snprintf(line, sizeof(line), "bind %s %s %s", argv[i], argv[i + 1], argv[i + 2]);
		execute(line, stdout);
	}
	ls = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, SOCK_PATH);
	unlink(SOCK_PATH);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 8) < 0) {
		perror("tipc-binder: " SOCK_PATH);
		return 1;
	}
	printf("tipc-binder: serving on %s\n", SOCK_PATH);
	fflush(stdout);
	for (;;) {
		int cs = accept(ls, NULL, NULL);
		char line[LINE_MAX_LEN];
		FILE *f;

		if (cs < 0)
			continue;
		f = fdopen(cs, "r+");
		if (!f) {
			close(cs);
			continue;
		}
		if (fgets(line, sizeof(line), f))
			execute(line, f);
		fclose(f);
	}
}

static int client(int argc, char **argv)
{
	struct sockaddr_un sa;
	char buf[4096];
	int s = socket(AF_UNIX, SOCK_STREAM, 0), ok = 0;
	size_t len = 0;
	FILE *f;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, SOCK_PATH);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("tipc-binder: connect " SOCK_PATH);
		return 1;
	}
	for (int i = 0; i < argc; i++)
		len += snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? " " : "", argv[i]);
	if (len >= sizeof(buf) - 1) {
		fprintf(stderr, "tipc-binder: command too long\n");
		return 2;
	}
	buf[len++] = '\n';
	if (write(s, buf, len) != (ssize_t)len) {
		perror("tipc-binder: write");
		return 1;
	}
	f = fdopen(s, "r");
	while (f && fgets(buf, sizeof(buf), f)) {
		fputs(buf, stdout);
		ok = !strncmp(buf, "ok", 2);
	}
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s serve [T L U ...] | bind|unbind T L U [node] | "
				"bindmany|unbindmany T L U COUNT [node] | unbindall | list\n",
			argv[0]);
		return 2;
	}
	if (!strcmp(argv[1], "serve"))
		return serve(argc - 2, argv + 2);
	return client(argc - 1, argv + 1);
}
