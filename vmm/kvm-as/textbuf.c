#include "textbuf.h"

#include <string.h>

void tb_init(struct tbuf *b, char *buf, size_t size)
{
	b->start = b->at = buf;
	b->end = buf + size - 1;
	b->cut = false;
	*b->at = '\0';
}

size_t tb_len(const struct tbuf *b)
{
	return (size_t)(b->at - b->start);
}

bool tb_cut(const struct tbuf *b)
{
	return b->cut;
}

void tb_char(struct tbuf *b, char c)
{
	if (b->at == b->end) {
		b->cut = true;
		return;
	}
	*b->at++ = c;
	*b->at = '\0';
}

void tb_bytes_cut(struct tbuf *b, const char *s, size_t n)
{
	size_t room = (size_t)(b->end - b->at);

	if (n > room) {
		b->cut = true;
		n = room;
	}
	memcpy(b->at, s, n);
	b->at += n;
	*b->at = '\0';
}

/* digits[0..n) are the number's digits, least significant first. */
static void put_digits(struct tbuf *b, const char *digits, unsigned n)
{
	if ((size_t)(b->end - b->at) < n) {
		b->cut = true;
		while (b->at < b->end) /* the most significant ones that fit */
			*b->at++ = digits[--n];
	} else {
		while (n)
			*b->at++ = digits[--n];
	}
	*b->at = '\0';
}

/* A constant divisor each (no division instruction): the trace's hot path. */
static void put_decimal(struct tbuf *b, uint64_t v, unsigned min)
{
	char digits[24];
	unsigned n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < min && n < sizeof(digits))
		digits[n++] = '0';
	put_digits(b, digits, n);
}

void tb_uint(struct tbuf *b, uint64_t v)
{
	put_decimal(b, v, 1);
}

void tb_uint_width(struct tbuf *b, uint64_t v, unsigned digits)
{
	put_decimal(b, v, digits);
}

void tb_int(struct tbuf *b, int64_t v)
{
	if (v < 0) {
		tb_char(b, '-');
		put_decimal(b, -(uint64_t)v, 1);
	} else {
		put_decimal(b, (uint64_t)v, 1);
	}
}

void tb_hex(struct tbuf *b, uint64_t v)
{
	char digits[16];
	unsigned n = 0;

	tb_str(b, "0x");
	do {
		digits[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	put_digits(b, digits, n);
}

bool tb_json_plain(const char *s)
{
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
			return false;
	return true;
}
