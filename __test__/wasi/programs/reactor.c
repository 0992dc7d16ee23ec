/*
 * A WASI reactor (a library) for the tests: `_initialize` runs its
 * constructor, its exports write to stdout and call a host import.
 */
#include <stdio.h>

/* Supplied by the embedder, beside WASI. */
__attribute__((import_module("env"), import_name("twice"))) long long twice(long long n);

static int ready;

__attribute__((constructor)) static void initialise(void) {
    ready = 1;
    puts("initialised");
    fflush(stdout);
}

/* (a, b, c) -> twice(a) * 1000 + b * 10 + c, once initialised; -1 before. */
__attribute__((export_name("render"))) long long render(long long a, long long b, long long c) {
    if (!ready) return -1;
    printf("render %lld\n", a);
    fflush(stdout);
    return twice(a) * 1000 + b * 10 + c;
}
