/*
 * tipc-conn: TIPC connections (SOCK_STREAM, SOCK_SEQPACKET) in the guest kernel, for the
 * connection interop tests (issue 17). Every byte sent is the xorshift32 stream of a seed (the
 * test's `pattern`), so each side can check the other's SHA-256 without carrying the data.
 *
 *   tipc-conn server KIND T I COUNT
 *       listen on {T, I} (cluster scope), accept COUNT connections (one child each), read each
 *       to its end; one line per connection:
 *       "conn N bytes B msgs M lens HEX sha256 HEX end eof|ECONNRESET|..."
 *       (lens: SHA-256 of each message's length as 4 bytes big-endian, for SEQPACKET boundaries)
 *   tipc-conn client KIND T I BYTES CHUNK SEED [CONNS [wait]]
 *       CONNS (default 1) connections at once to {T, I}, each sending BYTES of the stream of
 *       SEED + k in writes of 1..CHUNK bytes (sizes from the stream of SEED + k + 1000), then
 *       shutdown(); one line per connection: "sent N bytes B msgs M lens HEX sha256 HEX".
 *       With "wait", each connection reads until the peer ends it before its own shutdown (an
 *       application-level close: the kernel may deliver a shutdown ahead of the data it follows,
 *       see the test's comment)
 *   tipc-conn connect KIND T I [DOMAIN]
 *       connect only: "ok" or "err ENAME" (DOMAIN: the lookup node, 0 = cluster)
 *   tipc-conn hold KIND T I [DOMAIN]
 *       connect, then read until the connection ends: "end eof|ENAME ms MS" (time from connect)
 *
 * KIND is "stream" or "seqpacket". Output lines start with "@@" so the harness can find them.
 * Built with gcc -static so it runs in the busybox initramfs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/tipc.h>

/* ------------------------------------------------------------------ SHA-256 (FIPS 180-4) */

struct sha256 {
	uint32_t h[8];
	uint8_t buf[64];
	uint64_t len;
	size_t n;
};

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(struct sha256 *s, const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
	s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void sha_init(struct sha256 *s)
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	memcpy(s->h, iv, sizeof(iv));
	s->len = 0;
	s->n = 0;
}

static void sha_update(struct sha256 *s, const uint8_t *p, size_t len)
{
	s->len += len;
	while (len > 0) {
		size_t take = 64 - s->n < len ? 64 - s->n : len;
		memcpy(s->buf + s->n, p, take);
		s->n += take, p += take, len -= take;
		if (s->n == 64) {
			sha_block(s, s->buf);
			s->n = 0;
		}
	}
}

static void sha_hex(struct sha256 *s, char out[65])
{
	uint64_t bits = s->len * 8;
	uint8_t pad = 0x80, zero = 0, l[8];

	sha_update(s, &pad, 1);
	while (s->n != 56)
		sha_update(s, &zero, 1);
	for (int i = 0; i < 8; i++)
		l[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha_update(s, l, 8);
	for (int i = 0; i < 8; i++)
		sprintf(out + 8 * i, "%08x", s->h[i]);
}

/* ------------------------------------------------------------------ the test's byte stream */

struct stream {
	uint32_t x;
};

static void stream_init(struct stream *g, uint32_t seed)
{
	g->x = seed ? seed : 1;
}

static uint8_t stream_byte(struct stream *g)
{
	g->x ^= g->x << 13;
	g->x ^= g->x >> 17;
	g->x ^= g->x << 5;
	return g->x & 0xff;
}

/* ------------------------------------------------------------------ sockets */

static int kind_of(const char *k)
{
	if (!strcmp(k, "stream"))
		return SOCK_STREAM;
	if (!strcmp(k, "seqpacket"))
		return SOCK_SEQPACKET;
	fprintf(stderr, "kind must be stream or seqpacket\n");
	exit(2);
}

static const char *errname(int e)
{
	switch (e) {
	case ECONNREFUSED: return "ECONNREFUSED";
	case ECONNRESET: return "ECONNRESET";
	case ECONNABORTED: return "ECONNABORTED";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case ENOTCONN: return "ENOTCONN";
	case EPIPE: return "EPIPE";
	default: return strerror(e);
	}
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static struct sockaddr_tipc service(unsigned int type, unsigned int instance, unsigned int domain)
{
	struct sockaddr_tipc a;

	memset(&a, 0, sizeof(a));
	a.family = AF_TIPC;
	a.addrtype = TIPC_SERVICE_ADDR;
	a.addr.name.name.type = type;
	a.addr.name.name.instance = instance;
	a.addr.name.domain = domain;
	return a;
}

static int dial(int kind, unsigned int type, unsigned int instance, unsigned int domain)
{
	struct sockaddr_tipc a = service(type, instance, domain);
	int sd = socket(AF_TIPC, kind, 0);

	if (sd < 0)
		return -errno;
	if (connect(sd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		close(sd);
		return -e;
	}
	return sd;
}

static void put_len(struct sha256 *lens, uint32_t n)
{
	uint8_t b[4] = { n >> 24, n >> 16, n >> 8, n };
	sha_update(lens, b, 4);
}

/* Reads one connection to its end and prints what came. */
static void drain(int sd, int kind, int n)
{
	static uint8_t buf[66000];
	struct sha256 data, lens;
	unsigned long long bytes = 0, msgs = 0;
	char dh[65], lh[65];
	const char *end = "eof";

	sha_init(&data);
	sha_init(&lens);
	for (;;) {
		ssize_t r = recv(sd, buf, sizeof(buf), 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			end = errname(errno);
			break;
		}
		if (r == 0)
			break;
		sha_update(&data, buf, (size_t)r);
		bytes += (unsigned long long)r;
		msgs++;
		if (kind == SOCK_SEQPACKET)
			put_len(&lens, (uint32_t)r);
	}
	sha_hex(&data, dh);
	sha_hex(&lens, lh);
	printf("@@conn %d bytes %llu msgs %llu lens %s sha256 %s end %s\n", n, bytes, msgs, lh, dh, end);
	fflush(stdout);
}

static int server(int kind, unsigned int type, unsigned int instance, int count)
{
	struct sockaddr_tipc a;
	int ld = socket(AF_TIPC, kind, 0);

	if (ld < 0) {
		perror("socket");
		return 1;
	}
	memset(&a, 0, sizeof(a));
	a.family = AF_TIPC;
	a.addrtype = TIPC_SERVICE_RANGE;
	a.scope = TIPC_CLUSTER_SCOPE;
	a.addr.nameseq.type = type;
	a.addr.nameseq.lower = instance;
	a.addr.nameseq.upper = instance;
	if (bind(ld, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ld, 128) < 0) {
		perror("bind/listen");
		return 1;
	}
	printf("@@listening\n");
	fflush(stdout);
	for (int i = 0; i < count; i++) {
		int sd = accept(ld, NULL, NULL);
		if (sd < 0) {
			if (errno == EINTR) {
				i--;
				continue;
			}
			printf("@@accept-error %s\n", errname(errno));
			return 1;
		}
		pid_t pid = fork();
		if (pid == 0) {
			close(ld);
			drain(sd, kind, i);
			_exit(0);
		}
		close(sd);
	}
	while (wait(NULL) > 0)
		;
	printf("@@done\n");
	return 0;
}

/* Sends BYTES of the stream of `seed` in writes of 1..chunk bytes, then shuts down. */
static void feed(int kind, unsigned int type, unsigned int instance, unsigned long long total, unsigned int chunk,
		 uint32_t seed, int n, int wait_peer)
{
	static uint8_t buf[66000];
	struct stream data, sizes;
	struct sha256 dsha, lsha;
	unsigned long long sent = 0, msgs = 0;
	char dh[65], lh[65];
	int sd = dial(kind, type, instance, 0);

	if (sd < 0) {
		printf("@@sent %d error %s\n", n, errname(-sd));
		return;
	}
	if (chunk > sizeof(buf))
		chunk = sizeof(buf);
	stream_init(&data, seed);
	stream_init(&sizes, seed + 1000);
	sha_init(&dsha);
	sha_init(&lsha);
	while (sent < total) {
		uint32_t len = 1 + (uint32_t)(((uint32_t)stream_byte(&sizes) << 16 | (uint32_t)stream_byte(&sizes) << 8 |
					      stream_byte(&sizes)) % chunk);
		if (len > total - sent)
			len = (uint32_t)(total - sent);
		for (uint32_t i = 0; i < len; i++)
			buf[i] = stream_byte(&data);
		for (uint32_t off = 0; off < len;) {
			ssize_t w = send(sd, buf + off, len - off, 0);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				printf("@@sent %d error %s after %llu\n", n, errname(errno), sent);
				close(sd);
				return;
			}
			off += (uint32_t)w;
		}
		sha_update(&dsha, buf, len);
		put_len(&lsha, len);
		sent += len;
		msgs++;
	}
	if (wait_peer) {
		/* the peer ends the connection once it has every byte: recv returns 0 (its shutdown) */
		ssize_t r;
		while ((r = recv(sd, buf, sizeof(buf), 0)) > 0 || (r < 0 && errno == EINTR))
			;
	}
	shutdown(sd, SHUT_RDWR);
	close(sd);
	sha_hex(&dsha, dh);
	sha_hex(&lsha, lh);
	printf("@@sent %d bytes %llu msgs %llu lens %s sha256 %s\n", n, sent, msgs, lh, dh);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc >= 6 && !strcmp(argv[1], "server"))
		return server(kind_of(argv[2]), strtoul(argv[3], NULL, 0), strtoul(argv[4], NULL, 0), atoi(argv[5]));
	if (argc >= 8 && !strcmp(argv[1], "client")) {
		int kind = kind_of(argv[2]);
		int conns = argc >= 9 ? atoi(argv[8]) : 1;
		int wait_peer = argc >= 10 && !strcmp(argv[9], "wait");
		for (int k = 0; k < conns; k++) {
			if (fork() == 0) {
				feed(kind, strtoul(argv[3], NULL, 0), strtoul(argv[4], NULL, 0), strtoull(argv[5], NULL, 0),
				     strtoul(argv[6], NULL, 0), strtoul(argv[7], NULL, 0) + k, k, wait_peer);
				_exit(0);
			}
		}
		while (wait(NULL) > 0)
			;
		printf("@@done\n");
		return 0;
	}
	if (argc >= 5 && (!strcmp(argv[1], "connect") || !strcmp(argv[1], "hold"))) {
		long long t0;
		int kind = kind_of(argv[2]);
		unsigned int domain = argc >= 6 ? strtoul(argv[5], NULL, 0) : 0;
		int sd = dial(kind, strtoul(argv[3], NULL, 0), strtoul(argv[4], NULL, 0), domain);
		if (sd < 0) {
			printf("@@err %s\n", errname(-sd));
			return 0;
		}
		if (!strcmp(argv[1], "connect")) {
			printf("@@ok\n");
			close(sd);
			return 0;
		}
		printf("@@ok\n");
		fflush(stdout);
		t0 = now_ms();
		char b[4096];
		for (;;) {
			ssize_t r = recv(sd, b, sizeof(b), 0);
			if (r > 0 || (r < 0 && errno == EINTR))
				continue;
			printf("@@end %s ms %lld\n", r == 0 ? "eof" : errname(errno), now_ms() - t0);
			return 0;
		}
	}
	fprintf(stderr, "usage: see the comment at the top of tipc-conn.c\n");
	return 2;
}
