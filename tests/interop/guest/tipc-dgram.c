/*
 * tipc-dgram: the kernel's connectionless data path (AF_TIPC SOCK_RDM / SOCK_DGRAM) for the
 * interop tests. Every payload is generated from (sequence number, length) by one generator that
 * the tests reproduce (kernel-datagram.test.ts `payload()`), so each side checks what the other
 * sent byte for byte. Output is one machine-readable line per fact.
 *
 *   tipc-dgram recv [opts] --bind T L U [--bind T L U ...]
 *       one socket per --bind (or one socket holding every range with --one); prints
 *       "bound PORT NODE" per socket, then reads until --count messages arrived in total, or
 *       --idle MS passed without one after the first (default 3000), or --timeout MS (30000).
 *       --show N prints the first N messages: "msg SOCK NODE:PORT LEN SEQ OK FNV";
 *       --show-ooo N the first N out of order: "ooo SOCK NODE:PORT want SEQ got SEQ".
 *       At the end, per receiving socket and sender: "from SOCK NODE:PORT count C dup D ooo O
 *       bad B first F last L", then "done total T bad B".
 *   tipc-dgram send [opts] --name T I [DOMAIN] | --id NODE PORT | --mcast T L U
 *       sends --count N messages (default 1) of --size S bytes (a comma list cycles through
 *       sizes), sequence numbers from --seq0 (default 0); --droppable 0 clears
 *       TIPC_DEST_DROPPABLE, --returns MS then reads returned messages for up to MS:
 *       "returned ERR LEN SEQ" (TIPC_ERRINFO, TIPC_RETDATA); --bind T L U binds the sender too;
 *       --gap-errors keeps going when a send fails ("senderr SEQ ERRNO"). Ends with
 *       "sent N failed F returned R port P".
 *   common: --type rdm|dgram (default rdm), --imp 0..3, --rcvbuf BYTES (SO_RCVBUFFORCE).
 *
 * A payload of length L for sequence s: bytes from xorshift32 seeded with s*2654435761 ^ L ^
 * 0x9e3779b9 (a zero seed becomes 1), one byte per step (the low 8 bits); when L >= 4 its first
 * four bytes are then s, big endian. Built with gcc -static so it runs in the busybox initramfs.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/tipc.h>

#ifndef SOL_TIPC
#define SOL_TIPC 271
#endif
#define MAX_SOCKS 16
#define MAX_MSG 66000
#define MAX_SENDERS 64

static void fill(uint8_t *buf, uint32_t len, uint32_t seq)
{
	uint32_t x = (seq * 2654435761u) ^ len ^ 0x9e3779b9u;

	if (!x)
		x = 1;
	for (uint32_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
	if (len >= 4) {
		buf[0] = seq >> 24;
		buf[1] = seq >> 16;
		buf[2] = seq >> 8;
		buf[3] = seq;
	}
}

static uint32_t seq_of(const uint8_t *buf, uint32_t len)
{
	return len >= 4 ? (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3] : 0;
}

static uint64_t fnv(const uint8_t *buf, uint32_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (uint32_t i = 0; i < len; i++) {
		h ^= buf[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static unsigned long num(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s || v > 0xffffffffUL) {
		fprintf(stderr, "tipc-dgram: bad number %s\n", s);
		exit(2);
	}
	return v;
}

struct opts {
	int type, imp, droppable, one, gap_errors;
	long rcvbuf, count, show, show_ooo, idle, timeout, returns;
	uint32_t seq0;
	uint32_t sizes[16];
	int nsizes;
	uint32_t binds[MAX_SOCKS][3];
	int nbinds;
	int addrtype; /* TIPC_ADDR_NAME / TIPC_ADDR_ID / TIPC_ADDR_MCAST */
	uint32_t to[3];
};

static int open_sock(const struct opts *o)
{
	int sd = socket(AF_TIPC, o->type, 0);

	if (sd < 0) {
		perror("tipc-dgram: socket");
		exit(1);
	}
	if (o->imp >= 0 && setsockopt(sd, SOL_TIPC, TIPC_IMPORTANCE, &o->imp, sizeof(o->imp)) < 0)
		perror("tipc-dgram: TIPC_IMPORTANCE");
	if (o->droppable >= 0 &&
	    setsockopt(sd, SOL_TIPC, TIPC_DEST_DROPPABLE, &o->droppable, sizeof(o->droppable)) < 0)
		perror("tipc-dgram: TIPC_DEST_DROPPABLE");
	if (o->rcvbuf > 0) {
		int v = (int)o->rcvbuf;

		if (setsockopt(sd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
			perror("tipc-dgram: SO_RCVBUFFORCE");
	}
	return sd;
}

static void bind_range(int sd, const uint32_t *r)
{
	struct sockaddr_tipc a;

	memset(&a, 0, sizeof(a));
	a.family = AF_TIPC;
	a.addrtype = TIPC_SERVICE_RANGE;
	a.scope = TIPC_CLUSTER_SCOPE;
	a.addr.nameseq.type = r[0];
	a.addr.nameseq.lower = r[1];
	a.addr.nameseq.upper = r[2];
	if (bind(sd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "tipc-dgram: bind %u %u %u: %s\n", r[0], r[1], r[2], strerror(errno));
		exit(1);
	}
}

static void print_bound(int sd)
{
	struct sockaddr_tipc a;
	socklen_t l = sizeof(a);

	if (getsockname(sd, (struct sockaddr *)&a, &l) == 0)
		printf("bound %u %u\n", a.addr.id.ref, a.addr.id.node);
}

struct sender {
	int sock;
	uint32_t node, port, next, first, last;
	long count, dup, ooo, bad;
	uint8_t *seen; /* one bit per sequence number below --count */
};

static int do_recv(struct opts *o)
{
	int sds[MAX_SOCKS], nsd = o->one ? 1 : o->nbinds;
	struct pollfd pfd[MAX_SOCKS];
	struct sender senders[MAX_SENDERS];
	int nsenders = 0;
	static uint8_t buf[MAX_MSG], want[MAX_MSG];
	long total = 0, bad = 0, shown = 0, start = now_ms(), last = 0;
	long cap = o->count > 0 ? o->count : 100000;

	if (!o->nbinds) {
		fprintf(stderr, "tipc-dgram: recv needs --bind\n");
		return 2;
	}
	for (int i = 0; i < nsd; i++) {
		sds[i] = open_sock(o);
		pfd[i].fd = sds[i];
		pfd[i].events = POLLIN;
	}
	for (int i = 0; i < o->nbinds; i++)
		bind_range(sds[o->one ? 0 : i], o->binds[i]);
	for (int i = 0; i < nsd; i++)
		print_bound(sds[i]);
	fflush(stdout);
	for (;;) {
		long t = now_ms(), wait = start + o->timeout - t;

		if (o->count > 0 && total >= o->count)
			break;
		if (last && last + o->idle - t < wait)
			wait = last + o->idle - t;
		if (wait <= 0)
			break;
		if (poll(pfd, nsd, (int)wait) <= 0)
			continue;
		for (int i = 0; i < nsd; i++) {
			struct sockaddr_tipc src;
			socklen_t sl = sizeof(src);
			ssize_t n;
			uint32_t seq;
			int ok;
			struct sender *s = NULL;

			if (!(pfd[i].revents & POLLIN))
				continue;
			n = recvfrom(sds[i], buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&src, &sl);
			if (n < 0)
				continue;
			last = now_ms();
			total++;
			seq = seq_of(buf, (uint32_t)n);
			fill(want, (uint32_t)n, seq);
			ok = memcmp(buf, want, (size_t)n) == 0;
			if (!ok)
				bad++;
			if (shown < o->show) {
				printf("msg %d %u:%u %zd %u %d %016llx\n", i, src.addr.id.node, src.addr.id.ref, n, seq, ok,
				       (unsigned long long)fnv(buf, (uint32_t)n));
				shown++;
			}
			for (int k = 0; k < nsenders; k++)
				if (senders[k].sock == i && senders[k].node == src.addr.id.node &&
				    senders[k].port == src.addr.id.ref)
					s = &senders[k];
			if (!s && nsenders < MAX_SENDERS) {
				s = &senders[nsenders++];
				memset(s, 0, sizeof(*s));
				s->sock = i;
				s->node = src.addr.id.node;
				s->port = src.addr.id.ref;
				s->next = seq;
				s->first = seq;
				s->seen = calloc((size_t)cap / 8 + 1, 1);
			}
			if (!s)
				continue;
			if (!ok)
				s->bad++;
			if (seq < (uint32_t)cap && s->seen[seq / 8] & (1 << (seq % 8)))
				s->dup++;
			else if (seq < (uint32_t)cap)
				s->seen[seq / 8] |= 1 << (seq % 8);
			if (seq != s->next && s->ooo++ < o->show_ooo)
				printf("ooo %d %u:%u want %u got %u\n", i, s->node, s->port, s->next, seq);
			s->next = seq + 1;
			s->last = seq;
			s->count++;
		}
	}
	for (int k = 0; k < nsenders; k++)
		printf("from %d %u:%u count %ld dup %ld ooo %ld bad %ld first %u last %u\n", senders[k].sock,
		       senders[k].node, senders[k].port, senders[k].count, senders[k].dup, senders[k].ooo,
		       senders[k].bad, senders[k].first, senders[k].last);
	printf("done total %ld bad %ld\n", total, bad);
	return 0;
}

/* Reads returned messages (TIPC_ERRINFO, TIPC_RETDATA) until none came for `ms`. */
static long read_returns(int sd, long ms)
{
	static uint8_t buf[MAX_MSG];
	long n = 0, end = now_ms() + ms;
	char cbuf[CMSG_SPACE(8) + CMSG_SPACE(1024)];

	for (;;) {
		struct pollfd p = { .fd = sd, .events = POLLIN };
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct sockaddr_tipc src;
		struct msghdr m = { .msg_name = &src, .msg_namelen = sizeof(src), .msg_iov = &iov,
				    .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		long wait = end - now_ms();
		uint32_t err = 0, len = 0, seq = 0;
		int have_err = 0;
		ssize_t r;

		if (wait <= 0 || poll(&p, 1, (int)wait) <= 0)
			break;
		r = recvmsg(sd, &m, MSG_DONTWAIT);
		if (r < 0)
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level != SOL_TIPC)
				continue;
			if (c->cmsg_type == TIPC_ERRINFO) {
				memcpy(&err, CMSG_DATA(c), 4);
				memcpy(&len, (uint8_t *)CMSG_DATA(c) + 4, 4);
				have_err = 1;
			} else if (c->cmsg_type == TIPC_RETDATA) {
				uint32_t dl = c->cmsg_len - CMSG_LEN(0);

				seq = seq_of(CMSG_DATA(c), dl);
			}
		}
		if (have_err) {
			printf("returned %u %u %u\n", err, len, seq);
			n++;
		} else {
			printf("unexpected %zd\n", r);
		}
		end = now_ms() + ms;
	}
	return n;
}

static int do_send(struct opts *o)
{
	static uint8_t buf[MAX_MSG];
	struct sockaddr_tipc a;
	struct sockaddr_tipc self;
	socklen_t sl = sizeof(self);
	long sent = 0, failed = 0, returned = 0;
	int sd = open_sock(o);

	for (int i = 0; i < o->nbinds; i++)
		bind_range(sd, o->binds[i]);
	memset(&a, 0, sizeof(a));
	a.family = AF_TIPC;
	a.addrtype = o->addrtype;
	if (o->addrtype == TIPC_ADDR_NAME) {
		a.addr.name.name.type = o->to[0];
		a.addr.name.name.instance = o->to[1];
		a.addr.name.domain = o->to[2];
	} else if (o->addrtype == TIPC_ADDR_ID) {
		a.addr.id.node = o->to[0];
		a.addr.id.ref = o->to[1];
	} else if (o->addrtype == TIPC_ADDR_MCAST) {
		a.addr.nameseq.type = o->to[0];
		a.addr.nameseq.lower = o->to[1];
		a.addr.nameseq.upper = o->to[2];
	} else {
		fprintf(stderr, "tipc-dgram: send needs --name, --id or --mcast\n");
		return 2;
	}
	for (long i = 0; i < o->count; i++) {
		uint32_t seq = o->seq0 + (uint32_t)i, len = o->sizes[i % o->nsizes];

		fill(buf, len, seq);
		if (sendto(sd, buf, len, 0, (struct sockaddr *)&a, sizeof(a)) != (ssize_t)len) {
			failed++;
			printf("senderr %u %d %s\n", seq, errno, strerror(errno));
			if (!o->gap_errors)
				break;
			continue;
		}
		sent++;
	}
	if (o->returns > 0)
		returned = read_returns(sd, o->returns);
	getsockname(sd, (struct sockaddr *)&self, &sl);
	printf("sent %ld failed %ld returned %ld port %u\n", sent, failed, returned, self.addr.id.ref);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .type = SOCK_RDM, .imp = -1, .droppable = -1, .count = 0, .idle = 3000,
			  .timeout = 30000 };
	int recv;

	if (argc < 2 || (strcmp(argv[1], "recv") && strcmp(argv[1], "send"))) {
		fprintf(stderr, "usage: %s recv|send [options] (see the source)\n", argv[0]);
		return 2;
	}
	recv = !strcmp(argv[1], "recv");
	if (!recv)
		o.count = 1;
	for (int i = 2; i < argc; i++) {
		const char *k = argv[i];
		int left = argc - i - 1;

#define NEED(n)                                                                  \
	do {                                                                         \
		if (left < (n)) {                                                        \
			fprintf(stderr, "tipc-dgram: %s needs %d arguments\n", k, (n)); \
			return 2;                                                        \
		}                                                                        \
	} while (0)
		if (!strcmp(k, "--type")) {
			NEED(1);
			o.type = !strcmp(argv[++i], "dgram") ? SOCK_DGRAM : SOCK_RDM;
		} else if (!strcmp(k, "--imp")) {
			NEED(1);
			o.imp = (int)num(argv[++i]);
		} else if (!strcmp(k, "--droppable")) {
			NEED(1);
			o.droppable = (int)num(argv[++i]);
		} else if (!strcmp(k, "--rcvbuf")) {
			NEED(1);
			o.rcvbuf = (long)num(argv[++i]);
		} else if (!strcmp(k, "--count")) {
			NEED(1);
			o.count = (long)num(argv[++i]);
		} else if (!strcmp(k, "--show")) {
			NEED(1);
			o.show = (long)num(argv[++i]);
		} else if (!strcmp(k, "--show-ooo")) {
			NEED(1);
			o.show_ooo = (long)num(argv[++i]);
		} else if (!strcmp(k, "--idle")) {
			NEED(1);
			o.idle = (long)num(argv[++i]);
		} else if (!strcmp(k, "--timeout")) {
			NEED(1);
			o.timeout = (long)num(argv[++i]);
		} else if (!strcmp(k, "--returns")) {
			NEED(1);
			o.returns = (long)num(argv[++i]);
		} else if (!strcmp(k, "--seq0")) {
			NEED(1);
			o.seq0 = (uint32_t)num(argv[++i]);
		} else if (!strcmp(k, "--one")) {
			o.one = 1;
		} else if (!strcmp(k, "--gap-errors")) {
			o.gap_errors = 1;
		} else if (!strcmp(k, "--size")) {
			char *list, *tok;

			NEED(1);
			list = argv[++i];
			o.nsizes = 0;
			for (tok = strtok(list, ","); tok && o.nsizes < 16; tok = strtok(NULL, ","))
				o.sizes[o.nsizes++] = (uint32_t)num(tok);
			for (int s = 0; s < o.nsizes; s++)
				if (o.sizes[s] > MAX_MSG) {
					fprintf(stderr, "tipc-dgram: size above %d\n", MAX_MSG);
					return 2;
				}
		} else if (!strcmp(k, "--bind")) {
			NEED(3);
			if (o.nbinds == MAX_SOCKS) {
				fprintf(stderr, "tipc-dgram: at most %d --bind\n", MAX_SOCKS);
				return 2;
			}
			for (int j = 0; j < 3; j++)
				o.binds[o.nbinds][j] = (uint32_t)num(argv[++i]);
			o.nbinds++;
		} else if (!strcmp(k, "--name")) {
			NEED(2);
			o.addrtype = TIPC_ADDR_NAME;
			o.to[0] = (uint32_t)num(argv[++i]);
			o.to[1] = (uint32_t)num(argv[++i]);
			if (i + 1 < argc && argv[i + 1][0] != '-')
				o.to[2] = (uint32_t)num(argv[++i]);
		} else if (!strcmp(k, "--id")) {
			NEED(2);
			o.addrtype = TIPC_ADDR_ID;
			o.to[0] = (uint32_t)num(argv[++i]);
			o.to[1] = (uint32_t)num(argv[++i]);
		} else if (!strcmp(k, "--mcast")) {
			NEED(3);
			o.addrtype = TIPC_ADDR_MCAST;
			for (int j = 0; j < 3; j++)
				o.to[j] = (uint32_t)num(argv[++i]);
		} else {
			fprintf(stderr, "tipc-dgram: unknown option %s\n", k);
			return 2;
		}
	}
	if (!o.nsizes) {
		o.sizes[0] = 64;
		o.nsizes = 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	return recv ? do_recv(&o) : do_send(&o);
}
