/* scan.c - the pre-pass that hands libconfuse a text it reads correctly (see
 * scan.h for why). Token rules follow libconfuse 3.3's lexer.l: '#' and
 * '//' start a comment at the start of a token, "/ *...* /" spans lines,
 * strings are "..." or '...' with backslash escapes, "${VAR}" is a value,
 * words run until one of  #"'\t\n\r={}()+,*  and a lone '+' or '*' is
 * skipped. Lengths change only where include statements become lists;
 * lines never move. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"

enum tok {
	T_NONE,                 /* start of file */
	T_WORD,                 /* an unquoted string */
	T_STRING,               /* "...", '...' or ${VAR} */
	T_OPEN,                 /* { */
	T_CLOSE,                /* } */
	T_PUNCT,                /* ( ) = += , */
};

/* Where a top-level include(...) call is: it becomes a list, and the
 * scan checks that it holds one value. */
enum call {
	CALL_NONE,
	CALL_FIRST,             /* after '(': the value */
	CALL_NEXT,              /* after the value: ')' */
};

enum pending {
	P_NONE,
	P_INCLUDE,              /* saw a top-level "include" statement word */
	P_POOL,                 /* saw a top-level "pool" section word */
};

struct scanner {
	const char *in;
	size_t len;
	size_t pos;
	unsigned line;
	char *out;              /* the rewritten text */
	size_t outlen, outcap;
	unsigned *braces;       /* line of each open '{' */
	size_t depth, bracecap;
	unsigned parens;
	enum tok prev;
	char prev_punct;        /* the first character of a T_PUNCT */
	enum pending pending;
	unsigned pending_line;
	enum call call;
	unsigned call_line;     /* of the include whose call is open */
	struct thr_scan *res;
	unsigned err_line;
	char *err;
	size_t errlen;
};

static int put(struct scanner *s, const char *p, size_t n)
{
	if (s->outlen + n + 1 > s->outcap) {
		size_t cap = (s->outlen + n + 1) * 2;
		char *out = realloc(s->out, cap);

		if (!out)
			return -ENOMEM;
		s->out = out;
		s->outcap = cap;
	}
	memcpy(s->out + s->outlen, p, n);
	s->outlen += n;
	s->out[s->outlen] = '\0';
	return 0;
}

static int fail(struct scanner *s, unsigned line, const char *reason)
{
	s->err_line = line;
	snprintf(s->err, s->errlen, "%s", reason);
	return -EINVAL;
}

/* Copies in[start..end) out, counting its newlines; blank turns everything
 * but newlines into spaces (comments). */
static int copy(struct scanner *s, size_t start, size_t end, bool blank)
{
	for (size_t i = start; i < end; i++) {
		char c = s->in[i];

		if (c == '\n')
			s->line++;
		else if (blank)
			c = ' ';
		if (put(s, &c, 1) < 0)
			return -ENOMEM;
	}
	return 0;
}

static bool is_word(const struct scanner *s, size_t start, size_t end,
                    const char *word)
{
	return end - start == strlen(word) &&
	       memcmp(s->in + start, word, end - start) == 0;
}

static int add_pool(struct scanner *s, size_t start, size_t end,
                    unsigned line)
{
	struct thr_scan *res = s->res;
	struct thr_scan_pool *pools;
	char *title;

	pools = realloc(res->pools, (res->npools + 1) * sizeof(*pools));
	if (!pools)
		return -ENOMEM;
	res->pools = pools;
	title = strndup(s->in + start, end - start);
	if (!title)
		return -ENOMEM;
	res->pools[res->npools].title = title;
	res->pools[res->npools].line = line;
	res->npools++;
	return 0;
}

/* Where a new statement may begin: not after '=', '+=', ',' or '('. */
static bool statement_start(const struct scanner *s)
{
	return s->prev != T_PUNCT || s->prev_punct == ')';
}

static int bad_call(struct scanner *s)
{
	return fail(s, s->call_line, "include( is not closed: a file name or "
	            "glob, then ')', expected");
}

/* Follows the tokens of an include(...) call: one value, then ')'. */
static int call_token(struct scanner *s, enum tok kind, char c)
{
	bool value = kind == T_WORD || kind == T_STRING;
	bool punct = kind == T_PUNCT;

	if (s->call == CALL_FIRST && value) {
		s->call = CALL_NEXT;
		return 0;
	}
	if (s->call == CALL_NEXT && punct && c == ')') {
		s->call = CALL_NONE;
		return 0;
	}
	if (punct && (c == ')' || c == ','))
		return fail(s, s->call_line, "include takes one file name or "
		            "glob");
	return bad_call(s);
}

/* Handles one token in[start..end) that began on line: notes top-level
 * pool headers and include statements, then copies it out. */
static int token(struct scanner *s, enum tok kind, size_t start, size_t end,
                 unsigned line)
{
	bool top = s->depth == 0 && s->parens == 0;
	enum pending pending = s->pending;
	const char *before = "", *instead = NULL;
	int rc;

	s->pending = P_NONE;
	if (s->call != CALL_NONE) {
		rc = call_token(s, kind, s->in[start]);
		if (rc < 0)
			return rc;
		if (s->call == CALL_NONE)
			instead = "}";  /* the ')' that closed it */
	} else if (pending == P_INCLUDE && kind == T_PUNCT &&
	           s->in[start] == '(') {
		/* (not top: punct() has counted this parenthesis) */
		s->call = CALL_FIRST;
		s->call_line = line;
		instead = "+={";
	} else if (top && pending == P_INCLUDE) {
		if (kind == T_STRING)
			before = "+=";
	} else if (top && pending == P_POOL) {
		if (kind == T_WORD) {
			rc = add_pool(s, start, end, s->pending_line);
		} else if (kind == T_STRING && s->in[start] != '$') {
			rc = add_pool(s, start + 1, end - 1, s->pending_line);
		} else {
			rc = 0;
		}
		if (rc < 0)
			return rc;
	} else if (top && kind == T_WORD && statement_start(s)) {
		if (is_word(s, start, end, "include")) {
			s->pending = P_INCLUDE;
		} else if (is_word(s, start, end, "pool")) {
			s->pending = P_POOL;
			s->pending_line = line;
		}
	}
	if (put(s, before, strlen(before)) < 0)
		return -ENOMEM;
	if (instead ? put(s, instead, strlen(instead)) < 0
	            : copy(s, start, end, false) < 0)
		return -ENOMEM;
	s->prev = kind;
	s->prev_punct = s->in[start];
	return 0;
}

/* A quoted string starting at s->pos; returns its end (past the quote). */
static int string_end(struct scanner *s, size_t *ret_end)
{
	char quote = s->in[s->pos];
	size_t i = s->pos + 1;

	while (i < s->len && s->in[i] != quote) {
		if (s->in[i] == '\\' && i + 1 < s->len)
			i++;
		i++;
	}
	if (i >= s->len)
		return fail(s, s->line, "unterminated string");
	*ret_end = i + 1;
	return 0;
}

static int comment(struct scanner *s)
{
	const char *in = s->in;
	size_t i = s->pos;
	unsigned line = s->line;

	if (in[i] == '#' || in[i + 1] == '/') {
		while (i < s->len && in[i] != '\n')
			i++;
	} else {
		for (i += 2; i + 1 < s->len; i++) {
			if (in[i] == '*' && in[i + 1] == '/')
				break;
		}
		if (i + 1 >= s->len)
			return fail(s, line, "unterminated comment");
		i += 2;
	}
	if (copy(s, s->pos, i, true) < 0)
		return -ENOMEM;
	s->pos = i;
	return 0;
}

/* Copies one character that is not part of a token. */
static int skip(struct scanner *s)
{
	size_t at = s->pos++;

	return copy(s, at, at + 1, false);
}

static int brace(struct scanner *s)
{
	int rc;

	if (s->in[s->pos] == '{') {
		if (s->depth == s->bracecap) {
			size_t cap = s->bracecap ? s->bracecap * 2 : 8;
			unsigned *b = realloc(s->braces, cap * sizeof(*b));

			if (!b)
				return -ENOMEM;
			s->braces = b;
			s->bracecap = cap;
		}
		rc = token(s, T_OPEN, s->pos, s->pos + 1, s->line);
		s->braces[s->depth++] = s->line;
	} else {
		/* A '}' at the top is libconfuse's to report. */
		if (s->depth > 0)
			s->depth--;
		rc = token(s, T_CLOSE, s->pos, s->pos + 1, s->line);
	}
	s->pos++;
	return rc;
}

static int punct(struct scanner *s)
{
	char c = s->in[s->pos];
	size_t n = 1;

	if (c == '+' && s->pos + 1 < s->len && s->in[s->pos + 1] == '=')
		n = 2;
	else if (c == '+' || c == '*')
		return skip(s); /* libconfuse skips these */
	if (c == '(')
		s->parens++;
	else if (c == ')' && s->parens > 0)
		s->parens--;
	s->pos += n;
	return token(s, T_PUNCT, s->pos - n, s->pos, s->line);
}

static int step(struct scanner *s)
{
	const char *in = s->in;
	char c = in[s->pos];
	char next = s->pos + 1 < s->len ? in[s->pos + 1] : '\0';
	unsigned line = s->line;
	size_t end;
	int rc;

	switch (c) {
	case '\0':
		return fail(s, s->line, "NUL byte in file");
	case ' ': case '\t': case '\r': case '\n':
		return skip(s);
	case '#':
		return comment(s);
	case '"': case '\'':
		rc = string_end(s, &end);
		break;
	case '{': case '}':
		return brace(s);
	case '(': case ')': case '=': case ',': case '+': case '*':
		return punct(s);
	default:
		if (c == '/' && (next == '/' || next == '*'))
			return comment(s);
		if (c == '$' && next == '{') {
			const char *close = memchr(in + s->pos, '}',
			                           s->len - s->pos);
			if (close) {
				end = (size_t)(close - in) + 1;
				rc = 0;
				break;
			}
		}
		end = s->pos;
		while (end < s->len && in[end] != '\0' &&
		       !strchr(" #\"'\t\n\r={}()+,*", in[end]))
			end++;
		rc = token(s, T_WORD, s->pos, end, line);
		s->pos = end;
		return rc;
	}
	if (rc < 0)
		return rc;
	rc = token(s, T_STRING, s->pos, end, line);
	s->pos = end;
	return rc;
}

int thr_scan_text(const char *in, size_t len, struct thr_scan *ret,
                  unsigned *ret_line, char *err, size_t errlen)
{
	struct scanner s = {
		.in = in, .len = len, .line = 1, .res = ret,
		.err = err, .errlen = errlen,
	};
	int rc = 0;

	memset(ret, 0, sizeof(*ret));
	while (rc == 0 && s.pos < len)
		rc = step(&s);
	if (rc == 0 && s.call != CALL_NONE)
		rc = bad_call(&s);
	if (rc == 0 && s.depth > 0)
		rc = fail(&s, s.braces[s.depth - 1], "'{' is never closed");
	if (rc == 0 && !s.out)
		rc = put(&s, "", 0);
	free(s.braces);
	ret->text = s.out;
	ret->len = s.outlen;
	if (rc < 0) {
		thr_scan_free(ret);
		if (rc == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		*ret_line = s.err_line;
		return rc;
	}
	return 0;
}

void thr_scan_free(struct thr_scan *scan)
{
	free(scan->text);
	for (size_t i = 0; i < scan->npools; i++)
		free(scan->pools[i].title);
	free(scan->pools);
	memset(scan, 0, sizeof(*scan));
}
