/* Text appended to a fixed buffer without printf: each --trace line and the
 * calls' descriptions in it are built here, once per traced call, where a
 * printf conversion would cost as much as the rest of kvm-as's work. What
 * does not fit is cut (tb_cut says so); the text always ends with a NUL. */
#ifndef KVM_AS_TEXTBUF_H
#define KVM_AS_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tbuf {
	char *start, *at, *end; /* end: the last byte, kept for the NUL */
	bool cut;
};

void tb_init(struct tbuf *b, char *buf, size_t size); /* size >= 1 */
size_t tb_len(const struct tbuf *b);
bool tb_cut(const struct tbuf *b);

void tb_bytes_cut(struct tbuf *b, const char *s, size_t n); /* what does not fit */

/* Inline, so that a literal's length and copy are known when compiling. */
static inline void tb_bytes(struct tbuf *b, const char *s, size_t n)
{
	if (n > (size_t)(b->end - b->at)) {
		tb_bytes_cut(b, s, n);
		return;
	}
	__builtin_memcpy(b->at, s, n);
	b->at += n;
	*b->at = '\0';
}

static inline void tb_str(struct tbuf *b, const char *s)
{
	tb_bytes(b, s, __builtin_strlen(s));
}

void tb_char(struct tbuf *b, char c);
void tb_uint(struct tbuf *b, uint64_t v);
void tb_int(struct tbuf *b, int64_t v);
void tb_uint_width(struct tbuf *b, uint64_t v, unsigned digits); /* zero-padded */
void tb_hex(struct tbuf *b, uint64_t v); /* 0x1f, as %#llx but 0x0 for zero */

/* JSON: a name in quotes, as it is: only for names from kvm-as's own tables
 * (models, devices, ioctls, errnos, changes), which the unit tests check
 * hold nothing JSON escapes; and a ,"key": prefix. */
static inline void tb_json_name(struct tbuf *b, const char *name)
{
	tb_bytes(b, "\"", 1);
	tb_str(b, name);
	tb_bytes(b, "\"", 1);
}

static inline void tb_json_key(struct tbuf *b, const char *key)
{
	tb_bytes(b, ",\"", 2);
	tb_str(b, key);
	tb_bytes(b, "\":", 2);
}

/* ,"key":"0x1f": an address or a size, as every --trace field has them. */
static inline void tb_json_hex(struct tbuf *b, const char *key, uint64_t v)
{
	tb_json_key(b, key);
	tb_bytes(b, "\"", 1);
	tb_hex(b, v);
	tb_bytes(b, "\"", 1);
}

/* Whether `s` can go in quotes as it is (tb_json_name). */
bool tb_json_plain(const char *s);

#endif
