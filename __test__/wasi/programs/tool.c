/*
 * A WASI command for the tests: argv[1] names what it does, the rest are
 * its operands. Each command reports through stdout, stderr and its exit
 * status, as a real program would.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int usage(void) {
    fputs("usage: tool <echo|env|cat|stderr|exit|read|write|ls|time|random|spin|alloc|trap|flood|primes|sleep> ...\n", stderr);
    return 2;
}

/* Prints the operands separated by spaces, then a newline. */
static int echo(int argc, char **argv) {
    for (int i = 2; i < argc; i++) printf("%s%s", i > 2 ? " " : "", argv[i]);
    putchar('\n');
    return 0;
}

/* Copies standard input to standard output. */
static int cat(void) {
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, stdin)) > 0) fwrite(buffer, 1, n, stdout);
    return ferror(stdin) ? 1 : 0;
}

/* Prints the file at `path`, or why it cannot be read. */
static int read_file(const char *path) {
    FILE *file = fopen(path, "r");
    if (!file) {
        fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, file)) > 0) fwrite(buffer, 1, n, stdout);
    fclose(file);
    return 0;
}

/* Writes `text` to the file at `path`, or says why it cannot. */
static int write_file(const char *path, const char *text) {
    FILE *file = fopen(path, "w");
    if (!file) {
        fprintf(stderr, "cannot create %s: %s\n", path, strerror(errno));
        return 1;
    }
    fputs(text, file);
    return fclose(file) == 0 ? 0 : 1;
}

/* Lists the names in the directory at `path`, sorted by the caller. */
static int list(const char *path) {
    DIR *dir = opendir(path);
    if (!dir) {
        fprintf(stderr, "cannot list %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, "..")) printf("%s\n", entry->d_name);
    }
    closedir(dir);
    return 0;
}

/* Two readings of each clock, in nanoseconds. */
static int clocks(void) {
    struct timespec wall1, wall2, mono1, mono2;
    clock_gettime(CLOCK_REALTIME, &wall1);
    clock_gettime(CLOCK_REALTIME, &wall2);
    clock_gettime(CLOCK_MONOTONIC, &mono1);
    clock_gettime(CLOCK_MONOTONIC, &mono2);
    printf("wall %lld %lld\n", (long long)wall1.tv_sec * 1000000000LL + wall1.tv_nsec,
           (long long)wall2.tv_sec * 1000000000LL + wall2.tv_nsec);
    printf("monotonic %lld %lld\n", (long long)mono1.tv_sec * 1000000000LL + mono1.tv_nsec,
           (long long)mono2.tv_sec * 1000000000LL + mono2.tv_nsec);
    return 0;
}

/* 16 random bytes in hex. */
static int random_bytes(void) {
    unsigned char bytes[16];
    if (getentropy(bytes, sizeof bytes) != 0) return 1;
    for (size_t i = 0; i < sizeof bytes; i++) printf("%02x", bytes[i]);
    putchar('\n');
    return 0;
}

/* The blocks `alloc` keeps, so that the compiler cannot drop them. */
static char *volatile blocks[1024];

/* Allocates and touches `mib` MiB (at most 1024), reporting how far it got. */
static int alloc(long mib) {
    for (long i = 0; i < mib && i < 1024; i++) {
        blocks[i] = malloc(1 << 20);
        if (!blocks[i]) {
            printf("allocated %ld MiB\n", i);
            return 1;
        }
        memset(blocks[i], (int)i, 1 << 20);
    }
    printf("allocated %ld MiB\n", mib);
    return 0;
}

/* Writes `count` bytes to stdout unbuffered; reports the first failure on stderr. */
static int flood(long count) {
    char chunk[1000];
    memset(chunk, 'x', sizeof chunk);
    long written = 0;
    while (written < count) {
        size_t want = (size_t)(count - written < 1000 ? count - written : 1000);
        ssize_t n = write(1, chunk, want);
        if (n < 0) {
            fprintf(stderr, "write failed after %ld bytes: %s\n", written, strerror(errno));
            return 1;
        }
        written += n;
    }
    return 0;
}

/* Counts the primes below `n` with a sieve: a run bound by computation. */
static int primes(long n) {
    if (n < 2) return puts("0") < 0;
    char *composite = calloc((size_t)n, 1);
    if (!composite) return 1;
    long count = 0;
    for (long i = 2; i < n; i++) {
        if (composite[i]) continue;
        count++;
        for (long long j = (long long)i * i; j < n; j += i) composite[j] = 1;
    }
    free(composite);
    printf("%ld\n", count);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage();
    const char *command = argv[1];
    if (!strcmp(command, "echo")) return echo(argc, argv);
    if (!strcmp(command, "env") && argc == 3) {
        const char *value = getenv(argv[2]);
        printf("%s\n", value ? value : "(unset)");
        return value ? 0 : 1;
    }
    if (!strcmp(command, "cat")) return cat();
    if (!strcmp(command, "stderr") && argc == 3) return fputs(argv[2], stderr) < 0;
    if (!strcmp(command, "exit") && argc == 3) {
        puts("bye");
        exit(atoi(argv[2]));
    }
    if (!strcmp(command, "read") && argc == 3) return read_file(argv[2]);
    if (!strcmp(command, "write") && argc == 4) return write_file(argv[2], argv[3]);
    if (!strcmp(command, "ls") && argc == 3) return list(argv[2]);
    if (!strcmp(command, "time")) return clocks();
    if (!strcmp(command, "random")) return random_bytes();
    if (!strcmp(command, "spin")) {
        puts("spinning");
        fflush(stdout);
        for (volatile uint64_t i = 0;; i++) {
        }
    }
    if (!strcmp(command, "alloc") && argc == 3) return alloc(atol(argv[2]));
    if (!strcmp(command, "trap")) {
        puts("about to trap");
        fflush(stdout);
        __builtin_trap();
    }
    if (!strcmp(command, "flood") && argc == 3) return flood(atol(argv[2]));
    if (!strcmp(command, "primes") && argc == 3) return primes(atol(argv[2]));
    if (!strcmp(command, "sleep") && argc == 3) {
        puts("sleeping");
        fflush(stdout);
        usleep((useconds_t)atol(argv[2]) * 1000);
        puts("awake");
        return 0;
    }
    return usage();
}
