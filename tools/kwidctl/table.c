/* table.c - column-aligned tables for kwidctl's human output. */
#include "kwidctl.h"

#include <stdarg.h>

struct table {
	size_t ncols, nrows, cap;
	char **cells; /* nrows * ncols, row 0 = headers */
};

struct table *table_new(size_t ncols, const char *const *headers)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ncols = ncols;
	if (table_add(t, headers) < 0) {
		table_free(t);
		return NULL;
	}
	return t;
}

int table_add(struct table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		char **n = reallocarray_safe(t->cells, ncap * t->ncols, sizeof(*n));
		if (!n)
			return -ENOMEM;
		t->cells = n;
		t->cap = ncap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		char *c = strdup(cells[i] ? cells[i] : "-");
		if (!c)
			return -ENOMEM;
		t->cells[t->nrows * t->ncols + i] = c;
	}
	t->nrows++;
	return 0;
}

int table_addf(struct table *t, const char *fmt, ...)
{
	_cleanup_free_ char *line = NULL;
	_cleanup_free_ const char **cells = NULL;
	char *save = NULL, *p;
	va_list ap;
	size_t i = 0;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	cells = calloc(t->ncols, sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	for (p = strtok_r(line, "\t", &save); p && i < t->ncols; p = strtok_r(NULL, "\t", &save))
		cells[i++] = p;
	return table_add(t, cells);
}

void table_print(struct table *t, FILE *f)
{
	_cleanup_free_ size_t *width = calloc(t->ncols, sizeof(size_t));

	if (!width)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++)
			width[c] = MAX(width[c], strlen(t->cells[r * t->ncols + c]));
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c];
			if (c + 1 == t->ncols)
				fprintf(f, "%s\n", cell);
			else
				fprintf(f, "%-*s  ", (int)width[c], cell);
		}
	}
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
