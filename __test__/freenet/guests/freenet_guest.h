/*
 * Guest-side runtime for the Freenet contract/delegate ABI test guests
 * (the side freenet-stdlib 0.6.0 implements inside real contracts).
 *
 * Built with: clang --target=wasm32 -nostdlib -O2 -Wl,--no-entry -Wl,--export-dynamic
 * No libc: the few helpers needed are defined here. Every helper is `static`
 * so `--export-dynamic` exports only what is marked with GUEST_EXPORT.
 *
 * Pointers cross the ABI as i64 (wasm32 addresses zero-extended).
 *
 * Compile-time switch: -DSTREAMING makes read_input() use the streaming
 * protocol (u32 LE total length, then data, refilled through the import
 * freenet_contract_io.__frnt__fill_buffer). Without it, inputs are one-shot
 * (bytes start .. start + *last_write) and the module never imports
 * freenet_contract_io.
 */
#ifndef FREENET_GUEST_H
#define FREENET_GUEST_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef int i32;
typedef long long i64;
typedef unsigned long usize;

#define GUEST_EXPORT(name) __attribute__((export_name(name), used))
/* libc symbols: hidden so --export-dynamic leaves them out, no_builtin so the
   loops below are not turned back into calls to themselves. */
#define LIBC_FN __attribute__((visibility("hidden"), no_builtin))

#pragma clang diagnostic ignored "-Wunused-function"
#define GUEST_IMPORT(mod, name) __attribute__((import_module(mod), import_name(name)))

/* ------------------------------------------------------------------------ */
/* libc-free helpers (clang may emit calls to memcpy/memset/memmove)        */
/* ------------------------------------------------------------------------ */

LIBC_FN void *memcpy(void *dst, const void *src, usize n) {
    u8 *d = (u8 *)dst;
    const u8 *s = (const u8 *)src;
    while (n--) *d++ = *s++;
    return dst;
}

LIBC_FN void *memmove(void *dst, const void *src, usize n) {
    u8 *d = (u8 *)dst;
    const u8 *s = (const u8 *)src;
    if (d < s) {
        while (n--) *d++ = *s++;
    } else if (d > s) {
        d += n;
        s += n;
        while (n--) *--d = *--s;
    }
    return dst;
}

LIBC_FN void *memset(void *dst, int c, usize n) {
    u8 *d = (u8 *)dst;
    while (n--) *d++ = (u8)c;
    return dst;
}

static int mem_eq(const void *a, const void *b, u32 n) {
    const u8 *x = (const u8 *)a, *y = (const u8 *)b;
    for (u32 i = 0; i < n; i++)
        if (x[i] != y[i]) return 0;
    return 1;
}

static u32 cstr_len(const char *s) {
    u32 n = 0;
    while (s[n]) n++;
    return n;
}

/* Does bytes[0..len] start with the NUL-terminated `prefix`? */
static int starts_with(const u8 *bytes, u32 len, const char *prefix) {
    u32 n = cstr_len(prefix);
    return len >= n && mem_eq(bytes, prefix, n);
}

/* Is bytes[0..len] exactly the NUL-terminated `word`? */
static int equals(const u8 *bytes, u32 len, const char *word) {
    u32 n = cstr_len(word);
    return len == n && mem_eq(bytes, word, n);
}

static i64 ptr64(const void *p) { return (i64)(u32)(usize)p; }

static u32 rd_le32(const u8 *p) {
    return (u32)p[0] | ((u32)p[1] << 8) | ((u32)p[2] << 16) | ((u32)p[3] << 24);
}

static u64 rd_le64(const u8 *p) {
    return (u64)rd_le32(p) | ((u64)rd_le32(p + 4) << 32);
}

static void wr_le32(u8 *p, u32 v) {
    p[0] = (u8)v;
    p[1] = (u8)(v >> 8);
    p[2] = (u8)(v >> 16);
    p[3] = (u8)(v >> 24);
}

static void wr_le64(u8 *p, u64 v) {
    wr_le32(p, (u32)v);
    wr_le32(p + 4, (u32)(v >> 32));
}

/* ------------------------------------------------------------------------ */
/* Bump allocator over __heap_base, growing linear memory as needed.        */
/* Nothing is ever freed: every operation runs in a fresh instance.         */
/* ------------------------------------------------------------------------ */

extern u8 __heap_base;
static usize g_heap_next;

static void *alloc(u32 size) {
    if (g_heap_next == 0) g_heap_next = (usize)&__heap_base;
    usize start = (g_heap_next + 7u) & ~(usize)7u;
    u64 end = (u64)start + (u64)size;
    if (end > 0xFFFFFFFFull) __builtin_trap();
    u64 have = (u64)__builtin_wasm_memory_size(0) * 65536u;
    if (end > have) {
        u64 pages = (end - have + 65535u) / 65536u;
        if (__builtin_wasm_memory_grow(0, (usize)pages) == (usize)-1) __builtin_trap();
    }
    g_heap_next = (usize)end;
    return (void *)start;
}

/* ------------------------------------------------------------------------ */
/* Instance id                                                               */
/* ------------------------------------------------------------------------ */

static i64 g_instance_id = -1;

GUEST_EXPORT("__frnt_set_id") void frnt_set_id(i64 id) { g_instance_id = id; }

/* ------------------------------------------------------------------------ */
/* Host imports                                                              */
/* ------------------------------------------------------------------------ */

GUEST_IMPORT("freenet_log", "__frnt__logger__info")
void host_log_info(i64 id, i64 ptr, i32 len);

GUEST_IMPORT("freenet_rand", "__frnt__rand__rand_bytes")
void host_rand_bytes(i64 id, i64 ptr, i32 len);

GUEST_IMPORT("freenet_time", "__frnt__time__utc_now")
void host_utc_now(i64 id, i64 ptr);

#ifdef STREAMING
GUEST_IMPORT("freenet_contract_io", "__frnt__fill_buffer")
i32 host_fill_buffer(i64 id, i64 buf_ptr);
#endif

GUEST_IMPORT("freenet_delegate_ctx", "__frnt__delegate__ctx_len")
i32 host_ctx_len(void);
GUEST_IMPORT("freenet_delegate_ctx", "__frnt__delegate__ctx_read")
i32 host_ctx_read(i64 ptr, i32 len);
GUEST_IMPORT("freenet_delegate_ctx", "__frnt__delegate__ctx_write")
i32 host_ctx_write(i64 ptr, i32 len);

GUEST_IMPORT("freenet_delegate_secrets", "__frnt__delegate__get_secret")
i32 host_get_secret(i64 key_ptr, i32 key_len, i64 out_ptr, i32 out_len);
GUEST_IMPORT("freenet_delegate_secrets", "__frnt__delegate__get_secret_len")
i32 host_get_secret_len(i64 key_ptr, i32 key_len);
GUEST_IMPORT("freenet_delegate_secrets", "__frnt__delegate__set_secret")
i32 host_set_secret(i64 key_ptr, i32 key_len, i64 val_ptr, i32 val_len);
GUEST_IMPORT("freenet_delegate_secrets", "__frnt__delegate__has_secret")
i32 host_has_secret(i64 key_ptr, i32 key_len);
GUEST_IMPORT("freenet_delegate_secrets", "__frnt__delegate__remove_secret")
i32 host_remove_secret(i64 key_ptr, i32 key_len);
#ifdef FREENET_0_2_154
GUEST_IMPORT("freenet_delegate_secrets", "__frnt__delegate__list_secrets_len")
i32 host_list_secrets_len(i64 prefix_ptr, i32 prefix_len);
GUEST_IMPORT("freenet_delegate_secrets", "__frnt__delegate__list_secrets")
i32 host_list_secrets(i64 prefix_ptr, i32 prefix_len, i64 out_ptr, i32 out_len);
#endif

/* V2 delegates (the engine treats a module importing this namespace as V2). */
GUEST_IMPORT("freenet_delegate_contracts", "__frnt__delegate__get_contract_state_len")
i64 host_get_contract_state_len(i64 id_ptr, i32 id_len);
GUEST_IMPORT("freenet_delegate_contracts", "__frnt__delegate__get_contract_state")
i64 host_get_contract_state(i64 id_ptr, i32 id_len, i64 out_ptr, i64 out_len);
GUEST_IMPORT("freenet_delegate_contracts", "__frnt__delegate__put_contract_state")
i64 host_put_contract_state(i64 id_ptr, i32 id_len, i64 state_ptr, i64 state_len);
GUEST_IMPORT("freenet_delegate_contracts", "__frnt__delegate__update_contract_state")
i64 host_update_contract_state(i64 id_ptr, i32 id_len, i64 state_ptr, i64 state_len);
GUEST_IMPORT("freenet_delegate_contracts", "__frnt__delegate__subscribe_contract")
i64 host_subscribe_contract(i64 id_ptr, i32 id_len);

/* ------------------------------------------------------------------------ */
/* BufferBuilder (repr(C), 32 bytes)                                         */
/* ------------------------------------------------------------------------ */

typedef struct {
    i64 start;      /* @0  guest address of the data area */
    u32 capacity;   /* @8 */
    u32 pad;        /* @12 */
    i64 last_read;  /* @16 guest address of a u32 counter */
    i64 last_write; /* @24 guest address of a u32 counter */
} BufferBuilder;

_Static_assert(sizeof(BufferBuilder) == 32, "BufferBuilder is 32 bytes");

GUEST_EXPORT("__frnt__initiate_buffer") i64 frnt_initiate_buffer(u32 capacity) {
    BufferBuilder *b = (BufferBuilder *)alloc(sizeof(BufferBuilder));
    u32 *counters = (u32 *)alloc(8);
    u8 *data = (u8 *)alloc(capacity);
    counters[0] = 0;
    counters[1] = 0;
    b->start = ptr64(data);
    b->capacity = capacity;
    b->pad = 0;
    b->last_read = ptr64(&counters[0]);
    b->last_write = ptr64(&counters[1]);
    return ptr64(b);
}

static BufferBuilder *as_builder(i64 p) { return (BufferBuilder *)(usize)(u32)p; }
static u32 *counter(i64 p) { return (u32 *)(usize)(u32)p; }
static u8 *data_of(BufferBuilder *b) { return (u8 *)(usize)(u32)b->start; }

typedef struct {
    const u8 *ptr;
    u32 len;
} Bytes;

/* One-shot input: bytes start .. start + *last_write (read in place). */
static Bytes read_oneshot(i64 buf) {
    BufferBuilder *b = as_builder(buf);
    Bytes out;
    out.ptr = data_of(b);
    out.len = *counter(b->last_write);
    return out;
}

#ifdef STREAMING
/*
 * Streaming input: [total: u32 LE][first chunk] at start; *last_read is set
 * to 4, then bytes are consumed until `total` bytes were read. When the
 * buffer holds no unread byte, the host is asked to refill it (it resets
 * both counters, writes the next chunk at start and returns its size;
 * 0 means end of data, and the input is then shorter than announced, as
 * stdlib's read_to_end would return it).
 */
static Bytes read_streaming(i64 buf) {
    BufferBuilder *b = as_builder(buf);
    u32 *rd = counter(b->last_read);
    u32 *wr = counter(b->last_write);
    u32 total = rd_le32(data_of(b));
    *rd = 4;
    u8 *out = (u8 *)alloc(total);
    u32 got = 0;
    while (got < total) {
        u32 available = *wr > *rd ? *wr - *rd : 0;
        if (available == 0) {
            u32 filled = (u32)host_fill_buffer(g_instance_id, buf);
            if (filled == 0) break;
            available = filled;
        }
        u32 n = total - got;
        if (available < n) n = available;
        u32 pos = *rd;
        memcpy(out + got, data_of(b) + pos, n);
        *rd = pos + n;
        got += n;
    }
    Bytes r;
    r.ptr = out;
    r.len = got;
    return r;
}
#define read_input read_streaming
#else
#define read_input read_oneshot
#endif

/* ------------------------------------------------------------------------ */
/* bincode 1 (little endian, fixed-width ints, u64 lengths, u32 enum tags)   */
/* ------------------------------------------------------------------------ */

typedef struct {
    const u8 *p;
    u32 len;
    u32 pos;
    int err; /* set once any read runs past the end */
} Reader;

static Reader reader(Bytes b) {
    Reader r;
    r.p = b.ptr;
    r.len = b.len;
    r.pos = 0;
    r.err = 0;
    return r;
}

static const u8 *rd_take(Reader *r, u64 n) {
    if (r->err || n > (u64)(r->len - r->pos)) {
        r->err = 1;
        return 0;
    }
    const u8 *p = r->p + r->pos;
    r->pos += (u32)n;
    return p;
}

static u8 rd_u8(Reader *r) {
    const u8 *p = rd_take(r, 1);
    return p ? p[0] : 0;
}

static u32 rd_u32(Reader *r) {
    const u8 *p = rd_take(r, 4);
    return p ? rd_le32(p) : 0;
}

static u64 rd_u64(Reader *r) {
    const u8 *p = rd_take(r, 8);
    return p ? rd_le64(p) : 0;
}

/* Vec<u8> / String / serde_with::Bytes: u64 length then the bytes. */
static Bytes rd_bytes(Reader *r) {
    Bytes b;
    u64 n = rd_u64(r);
    b.ptr = rd_take(r, n);
    b.len = b.ptr ? (u32)n : 0;
    return b;
}

/* Option tag: 0 None, 1 Some; anything else is an error (as in bincode). */
static int rd_option(Reader *r) {
    u8 t = rd_u8(r);
    if (t > 1) r->err = 1;
    return t == 1;
}

/* bool: 0 or 1, anything else is an error (as in bincode). */
static int rd_bool(Reader *r) {
    u8 t = rd_u8(r);
    if (t > 1) r->err = 1;
    return t == 1;
}

typedef struct {
    u8 *p;
    u32 len;
    u32 cap;
} Writer;

static Writer writer(u32 cap) {
    Writer w;
    w.p = (u8 *)alloc(cap);
    w.len = 0;
    w.cap = cap;
    return w;
}

static u8 *wr_reserve(Writer *w, u32 n) {
    if ((u64)w->len + n > w->cap) {
        u64 cap = (u64)w->cap * 2;
        if (cap < (u64)w->len + n) cap = (u64)w->len + n;
        if (cap < 64) cap = 64;
        if (cap > 0xFFFFFFFFull) __builtin_trap();
        u8 *np = (u8 *)alloc((u32)cap);
        memcpy(np, w->p, w->len);
        w->p = np;
        w->cap = (u32)cap;
    }
    u8 *at = w->p + w->len;
    w->len += n;
    return at;
}

static void wr_raw(Writer *w, const void *src, u32 n) {
    u8 *at = wr_reserve(w, n);
    memcpy(at, src, n);
}

static void wr_u8(Writer *w, u8 v) { *wr_reserve(w, 1) = v; }
static void wr_u32(Writer *w, u32 v) { wr_le32(wr_reserve(w, 4), v); }
static void wr_u64(Writer *w, u64 v) { wr_le64(wr_reserve(w, 8), v); }
static void wr_tag(Writer *w, u32 tag) { wr_u32(w, tag); }
static void wr_bool(Writer *w, int v) { wr_u8(w, v ? 1 : 0); }

/* Vec<u8> / String / serde_with::Bytes */
static void wr_bytes(Writer *w, const void *src, u32 n) {
    wr_u64(w, n);
    wr_raw(w, src, n);
}

static void wr_str(Writer *w, const char *s) { wr_bytes(w, s, cstr_len(s)); }

/* Decimal rendering of a signed integer (for payloads such as "-2"). */
static void wr_decimal_raw(Writer *w, i64 v) {
    char tmp[24];
    int n = 0;
    u64 mag = v < 0 ? (u64)0 - (u64)v : (u64)v;
    do {
        tmp[n++] = (char)('0' + (mag % 10));
        mag /= 10;
    } while (mag);
    if (v < 0) tmp[n++] = '-';
    while (n) wr_u8(w, (u8)tmp[--n]);
}

/* ------------------------------------------------------------------------ */
/* Result structs                                                            */
/* ------------------------------------------------------------------------ */

/* Contract: ContractInterfaceResult { ptr: i64 @0, kind: i32 @8, size: u32 @12 } */
typedef struct {
    i64 ptr;
    i32 kind;
    u32 size;
} ContractResult;

_Static_assert(sizeof(ContractResult) == 16, "ContractInterfaceResult is 16 bytes");

enum {
    KIND_VALIDATE_STATE = 0,
    KIND_VALIDATE_DELTA = 1,
    KIND_UPDATE_STATE = 2,
    KIND_SUMMARIZE_STATE = 3,
    KIND_STATE_DELTA = 4,
};

static i64 contract_result(i32 kind, const u8 *payload, u32 size) {
    ContractResult *r = (ContractResult *)alloc(sizeof(ContractResult));
    r->ptr = ptr64(payload);
    r->kind = kind;
    r->size = size;
    return ptr64(r);
}

static i64 contract_result_w(i32 kind, const Writer *w) { return contract_result(kind, w->p, w->len); }

/* Delegate: DelegateInterfaceResult { ptr: i64 @0, size: u32 @8 } (repr(C): 16 bytes, 4 of padding) */
typedef struct {
    i64 ptr;
    u32 size;
    u32 pad;
} DelegateResult;

_Static_assert(sizeof(DelegateResult) == 16, "DelegateInterfaceResult is 16 bytes");

static i64 delegate_result_w(const Writer *w) {
    DelegateResult *r = (DelegateResult *)alloc(sizeof(DelegateResult));
    r->ptr = ptr64(w->p);
    r->size = w->len;
    r->pad = 0;
    return ptr64(r);
}

/* ------------------------------------------------------------------------ */
/* Shared encodings                                                          */
/* ------------------------------------------------------------------------ */

enum { RESULT_OK = 0, RESULT_ERR = 1 };

/* ContractError variant tags */
enum {
    CERR_DESER = 0,
    CERR_INVALID_UPDATE = 1,
    CERR_INVALID_UPDATE_WITH_INFO = 2,
    CERR_INVALID_STATE = 3,
    CERR_INVALID_DELTA = 4,
    CERR_OTHER = 5,
};

/* ValidateResult variant tags */
enum { VALID = 0, INVALID = 1, REQUEST_RELATED = 2 };

/* UpdateData variant tags */
enum {
    UD_STATE = 0,
    UD_DELTA = 1,
    UD_STATE_AND_DELTA = 2,
    UD_RELATED_STATE = 3,
    UD_RELATED_DELTA = 4,
    UD_RELATED_STATE_AND_DELTA = 5,
};

/* Err(ContractError) without a payload (InvalidUpdate, InvalidState, InvalidDelta). */
static i64 contract_err_unit(i32 kind, u32 err) {
    Writer w = writer(8);
    wr_tag(&w, RESULT_ERR);
    wr_tag(&w, err);
    return contract_result_w(kind, &w);
}

/* Err(ContractError::{Deser,Other,InvalidUpdateWithInfo}(bytes)) */
static i64 contract_err_msg(i32 kind, u32 err, const void *msg, u32 len) {
    Writer w = writer(16 + len);
    wr_tag(&w, RESULT_ERR);
    wr_tag(&w, err);
    wr_bytes(&w, msg, len);
    return contract_result_w(kind, &w);
}

static i64 contract_err_cstr(i32 kind, u32 err, const char *msg) {
    return contract_err_msg(kind, err, msg, cstr_len(msg));
}

/* Ok(ValidateResult::Valid / Invalid) */
static i64 validate_ok(u32 verdict) {
    Writer w = writer(8);
    wr_tag(&w, RESULT_OK);
    wr_tag(&w, verdict);
    return contract_result_w(KIND_VALIDATE_STATE, &w);
}

/* OutboundDelegateMsg variant tags */
enum {
    OUT_APPLICATION_MESSAGE = 0,
    OUT_REQUEST_USER_INPUT = 1,
    OUT_CONTEXT_UPDATED = 2,
    OUT_GET_CONTRACT_REQUEST = 3,
    OUT_PUT_CONTRACT_REQUEST = 4,
    OUT_UPDATE_CONTRACT_REQUEST = 5,
    OUT_SUBSCRIBE_CONTRACT_REQUEST = 6,
    OUT_SEND_DELEGATE_MESSAGE = 7,
    OUT_UNSUBSCRIBE_CONTRACT_REQUEST = 8, /* freenet-stdlib 0.12 */
};

/* InboundDelegateMsg variant tags */
enum {
    IN_APPLICATION_MESSAGE = 0,
    IN_USER_RESPONSE = 1,
    IN_GET_CONTRACT_RESPONSE = 2,
    IN_PUT_CONTRACT_RESPONSE = 3,
    IN_UPDATE_CONTRACT_RESPONSE = 4,
    IN_SUBSCRIBE_CONTRACT_RESPONSE = 5,
    IN_CONTRACT_NOTIFICATION = 6,
    IN_DELEGATE_MESSAGE = 7,
#ifdef FREENET_0_2_154
    /* freenet-stdlib 0.12 appends these */
    IN_UNSUBSCRIBE_CONTRACT_RESPONSE = 8,
    IN_WAKEUP_FIRED = 9,
    IN_LIFECYCLE = 10,
    IN_VARIANT_COUNT = 11,
#else
    IN_VARIANT_COUNT = 8,
#endif
};

/* DelegateError variant tags */
enum { DERR_DESER = 0, DERR_OTHER = 1 };

/* Err(DelegateError::{Deser,Other}(msg)) */
static i64 delegate_err(u32 err, const void *msg, u32 len) {
    Writer w = writer(16 + len);
    wr_tag(&w, RESULT_ERR);
    wr_tag(&w, err);
    wr_bytes(&w, msg, len);
    return delegate_result_w(&w);
}

static i64 delegate_err_cstr(u32 err, const char *msg) { return delegate_err(err, msg, cstr_len(msg)); }

/* One OutboundDelegateMsg::ApplicationMessage { payload, context, processed } */
static void wr_app_message(Writer *w, const void *payload, u32 len, const void *ctx, u32 ctx_len, int processed) {
    wr_tag(w, OUT_APPLICATION_MESSAGE);
    wr_bytes(w, payload, len);
    wr_bytes(w, ctx, ctx_len);
    wr_bool(w, processed);
}

/* Ok(vec![ApplicationMessage { payload, context: empty, processed: true }]) */
static i64 delegate_reply(const void *payload, u32 len) {
    Writer w = writer(48 + len);
    wr_tag(&w, RESULT_OK);
    wr_u64(&w, 1);
    wr_app_message(&w, payload, len, 0, 0, 1);
    return delegate_result_w(&w);
}

static i64 delegate_reply_cstr(const char *s) { return delegate_reply(s, cstr_len(s)); }

/* Reply with the decimal rendering of a host return code. */
static i64 delegate_reply_code(i64 code) {
    Writer p = writer(24);
    wr_decimal_raw(&p, code);
    return delegate_reply(p.p, p.len);
}

/* Reply "err:<code>" */
static i64 delegate_reply_err_code(i64 code) {
    Writer p = writer(28);
    wr_raw(&p, "err:", 4);
    wr_decimal_raw(&p, code);
    return delegate_reply(p.p, p.len);
}

/*
 * Decodes the inbound message far enough for the test delegates:
 * returns the variant tag, and for ApplicationMessage its payload and context
 * (for WakeupFired its tag, for Lifecycle the bytes after the variant tag, as
 * the payload).
 * Returns -1 when the bytes are not a well-formed ApplicationMessage or the
 * tag is not a known variant (stdlib's bincode::deserialize would fail too).
 */
typedef struct {
    u32 tag;
    Bytes payload;
    Bytes context;
    int processed;
} Inbound;

static int decode_inbound(Bytes in, Inbound *out) {
    Reader r = reader(in);
    out->tag = rd_u32(&r);
    out->payload.ptr = 0;
    out->payload.len = 0;
    out->context = out->payload;
    out->processed = 0;
    if (r.err || out->tag >= IN_VARIANT_COUNT) return -1;
    if (out->tag == IN_APPLICATION_MESSAGE) {
        out->payload = rd_bytes(&r);
        out->context = rd_bytes(&r);
        out->processed = rd_bool(&r);
        if (r.err) return -1;
    }
#ifdef FREENET_0_2_154
    if (out->tag == IN_WAKEUP_FIRED) {
        out->payload = rd_bytes(&r);
        if (r.err) return -1;
    }
    if (out->tag == IN_LIFECYCLE) {
        out->payload.ptr = in.ptr + 4;
        out->payload.len = in.len - 4;
    }
#endif
    return 0;
}

/* Parses an unsigned decimal; returns -1 when not a plain decimal number below 2^31. */
static i64 parse_decimal(const u8 *p, u32 len) {
    if (len == 0 || len > 10) return -1;
    i64 v = 0;
    for (u32 i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v > 0x7fffffff ? -1 : v;
}

#endif /* FREENET_GUEST_H */
