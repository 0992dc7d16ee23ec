/*
 * A one-shot contract that breaks the ABI on purpose, so the host's checks
 * can be tested. validate_state and summarize_state both pick their lie from
 * parameters[0] (an ASCII letter):
 *
 *   'o'  returns a result-struct address beyond memory (0x7fff0000)
 *   'y'  returns a negative result-struct address (-8)
 *   'p'  result ptr valid, but ptr + size runs past the end of memory
 *   'z'  result struct whose ptr field is -8 (size 8)
 *   'k'  wrong kind: summarize_state answers kind 0 with an Ok(Valid) payload,
 *        validate_state answers kind 3 with an Ok(8-byte summary) payload
 *   'h'  size 0xFFFFFFFF (ptr valid)
 *   't'  payload is a Result with tag 7
 *   'u'  truncated payload: the Ok tag and nothing after it
 *   'l'  calls the logger with a pointer beyond memory, then answers normally
 *   'r'  calls rand_bytes with len 0x7fffffff at a valid pointer, then answers normally
 *   'n'  calls utc_now with a pointer beyond memory, then answers normally
 *   'x'  executes `unreachable`
 *   'g'  loops forever
 *   'm'  grows memory until a grow fails (first asks 65536 pages, then halves
 *        the request down to 1 page), then answers normally
 *   'v'  (and anything else, including empty parameters) a normal answer
 *
 * A normal answer is Ok(ValidateResult::Valid) (kind 0) from validate_state
 * and Ok(8-byte summary: u64 LE of the state length) (kind 3) from
 * summarize_state. update_state and get_state_delta never lie: they answer
 * Ok(UpdateModification { new_state: None, related: [] }) (kind 2) and
 * Ok(empty delta) (kind 4).
 */
#include "freenet_guest.h"

#define BEYOND_MEMORY 0x7fff0000ll

static u32 memory_bytes(void) { return (u32)__builtin_wasm_memory_size(0) * 65536u; }

/* Ok(ValidateResult::Valid) */
static Writer valid_payload(void) {
    Writer w = writer(8);
    wr_tag(&w, RESULT_OK);
    wr_tag(&w, VALID);
    return w;
}

/* Ok(StateSummary(u64 LE len)) */
static Writer summary_payload(u32 state_len) {
    Writer w = writer(20);
    u8 len[8];
    wr_le64(len, state_len);
    wr_tag(&w, RESULT_OK);
    wr_bytes(&w, len, 8);
    return w;
}

static volatile u32 g_spin;

static i64 lie(i32 kind, u8 letter, Bytes state) {
    Writer honest = kind == KIND_VALIDATE_STATE ? valid_payload() : summary_payload(state.len);
    switch (letter) {
    case 'o': return BEYOND_MEMORY;
    case 'y': return -8;
    case 'p': {
        u8 *tail = (u8 *)alloc(16);
        memcpy(tail, honest.p, honest.len < 16 ? honest.len : 16);
        ContractResult *r = (ContractResult *)alloc(sizeof(ContractResult));
        r->ptr = ptr64(tail);
        r->kind = kind;
        r->size = memory_bytes() - (u32)(usize)tail + 64; /* 64 bytes past the end */
        return ptr64(r);
    }
    case 'z': {
        ContractResult *r = (ContractResult *)alloc(sizeof(ContractResult));
        r->ptr = -8;
        r->kind = kind;
        r->size = 8;
        return ptr64(r);
    }
    case 'k': {
        if (kind == KIND_SUMMARIZE_STATE) {
            Writer w = valid_payload();
            return contract_result_w(KIND_VALIDATE_STATE, &w);
        }
        Writer w = summary_payload(state.len);
        return contract_result_w(KIND_SUMMARIZE_STATE, &w);
    }
    case 'h': return contract_result(kind, honest.p, 0xFFFFFFFFu);
    case 't': {
        Writer w = writer(8);
        wr_tag(&w, 7);
        wr_tag(&w, 0);
        return contract_result_w(kind, &w);
    }
    case 'u': {
        Writer w = writer(4);
        wr_tag(&w, RESULT_OK);
        return contract_result_w(kind, &w);
    }
    case 'l': host_log_info(g_instance_id, BEYOND_MEMORY, 16); break;
    case 'r': {
        u8 *small = (u8 *)alloc(16);
        host_rand_bytes(g_instance_id, ptr64(small), 0x7fffffff);
        break;
    }
    case 'n': host_utc_now(g_instance_id, BEYOND_MEMORY); break;
    case 'g':
        for (;;) g_spin++;
    case 'm': {
        u32 step = 65536;
        for (;;) {
            if (__builtin_wasm_memory_grow(0, step) == (usize)-1) {
                if (step == 1) break;
                step /= 2;
            }
        }
        /* the honest payload was allocated before growing; a fresh result struct is fine */
        return contract_result_w(kind, &honest);
    }
    default: break;
    }
    return contract_result_w(kind, &honest);
}

static i64 dispatch(i32 kind, Bytes params, Bytes state) {
    u8 letter = params.len > 0 ? params.ptr[0] : 'v';
    if (letter == 'x') __builtin_trap(); /* the wasm `unreachable` instruction */
    return lie(kind, letter, state);
}

GUEST_EXPORT("validate_state") i64 validate_state(i64 params_buf, i64 state_buf, i64 related_buf) {
    (void)related_buf;
    return dispatch(KIND_VALIDATE_STATE, read_oneshot(params_buf), read_oneshot(state_buf));
}

GUEST_EXPORT("summarize_state") i64 summarize_state(i64 params_buf, i64 state_buf) {
    return dispatch(KIND_SUMMARIZE_STATE, read_oneshot(params_buf), read_oneshot(state_buf));
}

GUEST_EXPORT("update_state") i64 update_state(i64 params_buf, i64 state_buf, i64 updates_buf) {
    (void)params_buf;
    (void)state_buf;
    (void)updates_buf;
    Writer w = writer(16);
    wr_tag(&w, RESULT_OK);
    wr_u8(&w, 0);  /* new_state: None */
    wr_u64(&w, 0); /* related: [] */
    return contract_result_w(KIND_UPDATE_STATE, &w);
}

GUEST_EXPORT("get_state_delta") i64 get_state_delta(i64 params_buf, i64 state_buf, i64 summary_buf) {
    (void)params_buf;
    (void)state_buf;
    (void)summary_buf;
    Writer w = writer(12);
    wr_tag(&w, RESULT_OK);
    wr_u64(&w, 0); /* empty delta */
    return contract_result_w(KIND_STATE_DELTA, &w);
}
