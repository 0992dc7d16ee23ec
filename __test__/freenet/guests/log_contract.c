/*
 * Append-only log contract for testing the Freenet runtime.
 *
 * Built twice: with -DSTREAMING (inputs arrive through the streaming refill
 * protocol, the module imports freenet_contract_io) and without (one-shot
 * inputs, no freenet_contract_io import).
 *
 * Parameters: exactly 4 bytes, u32 LE max_len; anything else makes every
 * export answer Err(ContractError::Deser("parameters must be 4 bytes")) with
 * its own result kind.
 *
 * As in freenet-stdlib 0.6.0, all inputs are read and decoded before the
 * contract logic runs; when the bincode input (RelatedContracts or
 * Vec<UpdateData>) cannot be decoded, the answer is Err(Deser(..)) with the
 * kind stdlib uses there: 1 (ValidateDelta) for validate_state, 0
 * (ValidateState) for update_state, whatever the export.
 */
#include "freenet_guest.h"

static const char PARAMS_MSG[] = "parameters must be 4 bytes";

/* max_len from the parameters; returns 0 when they are not exactly 4 bytes. */
static int max_len_of(Bytes params, u32 *max_len) {
    if (params.len != 4) return 0;
    *max_len = rd_le32(params.ptr);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* validate_state                                                            */
/* ------------------------------------------------------------------------ */

typedef struct {
    const u8 *id; /* 32 bytes */
    int has_state;
} RelatedEntry;

GUEST_EXPORT("validate_state") i64 validate_state(i64 params_buf, i64 state_buf, i64 related_buf) {
    Bytes params = read_input(params_buf);
    Bytes state = read_input(state_buf);
    Bytes related_bytes = read_input(related_buf);

    /* RelatedContracts: u64 count, then per entry [u8; 32] id and Option<State>. */
    Reader r = reader(related_bytes);
    u64 count = rd_u64(&r);
    if (count > (u64)(r.len - r.pos) / 33u) r.err = 1; /* each entry needs >= 33 bytes */
    RelatedEntry *entries = 0;
    if (!r.err) {
        entries = (RelatedEntry *)alloc((u32)count * sizeof(RelatedEntry));
        for (u32 i = 0; i < (u32)count && !r.err; i++) {
            entries[i].id = rd_take(&r, 32);
            entries[i].has_state = rd_option(&r);
            if (entries[i].has_state) rd_bytes(&r);
        }
    }
    if (r.err) return contract_err_cstr(KIND_VALIDATE_DELTA, CERR_DESER, "related contracts: invalid bincode");

    u32 max_len;
    if (!max_len_of(params, &max_len)) return contract_err_cstr(KIND_VALIDATE_STATE, CERR_DESER, PARAMS_MSG);

    if (starts_with(state.ptr, state.len, "other:"))
        return contract_err_msg(KIND_VALIDATE_STATE, CERR_OTHER, state.ptr + 6, state.len - 6);
    if (starts_with(state.ptr, state.len, "bad")) return contract_err_unit(KIND_VALIDATE_STATE, CERR_INVALID_STATE);
    if (starts_with(state.ptr, state.len, "log:")) host_log_info(g_instance_id, ptr64(state.ptr + 4), (i32)(state.len - 4));

    if (starts_with(state.ptr, state.len, "need:")) {
        const u8 *keys = state.ptr + 5;
        u32 n = state.len - 5;
        if (n % 32 != 0) return contract_err_unit(KIND_VALIDATE_STATE, CERR_INVALID_STATE);
        Writer missing = writer(16 + n);
        u64 missing_count = 0;
        wr_tag(&missing, RESULT_OK);
        wr_tag(&missing, REQUEST_RELATED);
        wr_u64(&missing, 0); /* patched below */
        for (u32 k = 0; k < n; k += 32) {
            int found = -1;
            /* a repeated id in the map: the last entry wins, as in a HashMap */
            for (u32 i = 0; i < (u32)count; i++)
                if (mem_eq(entries[i].id, keys + k, 32)) found = (int)i;
            if (found < 0) {
                wr_raw(&missing, keys + k, 32);
                missing_count++;
            } else if (!entries[found].has_state) {
                return validate_ok(INVALID);
            }
        }
        if (missing_count == 0) return validate_ok(VALID);
        wr_le64(missing.p + 8, missing_count);
        return contract_result_w(KIND_VALIDATE_STATE, &missing);
    }

    return validate_ok(state.len > max_len ? INVALID : VALID);
}

/* ------------------------------------------------------------------------ */
/* update_state                                                              */
/* ------------------------------------------------------------------------ */

typedef struct {
    u32 tag;
    const u8 *related_to; /* 32 bytes, for the Related* variants */
    Bytes state;
    Bytes delta;
} Update;

GUEST_EXPORT("update_state") i64 update_state(i64 params_buf, i64 state_buf, i64 updates_buf) {
    Bytes params = read_input(params_buf);
    Bytes state = read_input(state_buf);
    Bytes updates_bytes = read_input(updates_buf);

    /* Vec<UpdateData>: u64 count, then per entry a u32 tag and its fields. */
    Reader r = reader(updates_bytes);
    u64 count = rd_u64(&r);
    if (count > (u64)(r.len - r.pos) / 12u) r.err = 1; /* each entry needs >= 12 bytes */
    Update *updates = 0;
    if (!r.err) {
        updates = (Update *)alloc((u32)count * sizeof(Update));
        for (u32 i = 0; i < (u32)count && !r.err; i++) {
            Update *u = &updates[i];
            u->tag = rd_u32(&r);
            u->related_to = 0;
            u->state.ptr = 0;
            u->state.len = 0;
            u->delta = u->state;
            switch (u->tag) {
            case UD_STATE: u->state = rd_bytes(&r); break;
            case UD_DELTA: u->delta = rd_bytes(&r); break;
            case UD_STATE_AND_DELTA:
                u->state = rd_bytes(&r);
                u->delta = rd_bytes(&r);
                break;
            case UD_RELATED_STATE:
                u->related_to = rd_take(&r, 32);
                u->state = rd_bytes(&r);
                break;
            case UD_RELATED_DELTA:
                u->related_to = rd_take(&r, 32);
                u->delta = rd_bytes(&r);
                break;
            case UD_RELATED_STATE_AND_DELTA:
                u->related_to = rd_take(&r, 32);
                u->state = rd_bytes(&r);
                u->delta = rd_bytes(&r);
                break;
            default: r.err = 1;
            }
        }
    }
    if (r.err) return contract_err_cstr(KIND_VALIDATE_STATE, CERR_DESER, "updates: invalid bincode");

    u32 max_len;
    if (!max_len_of(params, &max_len)) return contract_err_cstr(KIND_UPDATE_STATE, CERR_DESER, PARAMS_MSG);
    if (count == 0) return contract_err_unit(KIND_UPDATE_STATE, CERR_INVALID_UPDATE);

    /* The new state never exceeds the old state plus every byte of the updates. */
    Writer next = writer(state.len + updates_bytes.len);
    wr_raw(&next, state.ptr, state.len);
    Writer related = writer(64);
    u64 related_count = 0;

    for (u32 i = 0; i < (u32)count; i++) {
        Update *u = &updates[i];
        switch (u->tag) {
        case UD_STATE:
            next.len = 0;
            wr_raw(&next, u->state.ptr, u->state.len);
            break;
        case UD_DELTA: {
            const u8 *d = u->delta.ptr;
            u32 n = u->delta.len;
            if (n >= 1 && d[0] == '!')
                return contract_err_msg(KIND_UPDATE_STATE, CERR_INVALID_UPDATE_WITH_INFO, d + 1, n - 1);
            if (n == 4 + 32 + 1 && starts_with(d, n, "rel:") && d[36] <= 1) {
                wr_raw(&related, d + 4, 32);
                wr_u32(&related, d[36]); /* RelatedMode: 0 StateOnce, 1 StateThenSubscribe */
                related_count++;
                break;
            }
            wr_raw(&next, d, n);
            break;
        }
        case UD_STATE_AND_DELTA:
            next.len = 0;
            wr_raw(&next, u->state.ptr, u->state.len);
            wr_raw(&next, u->delta.ptr, u->delta.len);
            break;
        case UD_RELATED_STATE: wr_raw(&next, u->state.ptr, u->state.len); break;
        case UD_RELATED_DELTA: wr_raw(&next, u->delta.ptr, u->delta.len); break;
        case UD_RELATED_STATE_AND_DELTA:
            wr_raw(&next, u->state.ptr, u->state.len);
            wr_raw(&next, u->delta.ptr, u->delta.len);
            break;
        }
    }

    if (next.len > max_len) return contract_err_unit(KIND_UPDATE_STATE, CERR_INVALID_UPDATE);

    int changed = next.len != state.len || !mem_eq(next.p, state.ptr, state.len);
    /* UpdateModification { new_state: Option<State>, related: Vec<RelatedContract> } */
    Writer w = writer(4 + 1 + 8 + next.len + 8 + related.len);
    wr_tag(&w, RESULT_OK);
    if (changed) {
        wr_u8(&w, 1);
        wr_bytes(&w, next.p, next.len);
    } else {
        wr_u8(&w, 0);
    }
    wr_u64(&w, related_count);
    wr_raw(&w, related.p, related.len);
    return contract_result_w(KIND_UPDATE_STATE, &w);
}

/* ------------------------------------------------------------------------ */
/* summarize_state                                                           */
/* ------------------------------------------------------------------------ */

GUEST_EXPORT("summarize_state") i64 summarize_state(i64 params_buf, i64 state_buf) {
    Bytes params = read_input(params_buf);
    Bytes state = read_input(state_buf);
    u32 max_len;
    if (!max_len_of(params, &max_len)) return contract_err_cstr(KIND_SUMMARIZE_STATE, CERR_DESER, PARAMS_MSG);

    Writer w = writer(4 + 8 + 16);
    wr_tag(&w, RESULT_OK);
    if (equals(state.ptr, state.len, "time")) {
        u8 *now = (u8 *)alloc(12);
        memset(now, 0, 12);
        host_utc_now(g_instance_id, ptr64(now));
        wr_bytes(&w, now, 12);
    } else if (equals(state.ptr, state.len, "rand")) {
        u8 *bytes = (u8 *)alloc(16);
        memset(bytes, 0, 16);
        host_rand_bytes(g_instance_id, ptr64(bytes), 16);
        wr_bytes(&w, bytes, 16);
    } else {
        u8 len[8];
        wr_le64(len, state.len);
        wr_bytes(&w, len, 8);
    }
    return contract_result_w(KIND_SUMMARIZE_STATE, &w);
}

/* ------------------------------------------------------------------------ */
/* get_state_delta                                                           */
/* ------------------------------------------------------------------------ */

GUEST_EXPORT("get_state_delta") i64 get_state_delta(i64 params_buf, i64 state_buf, i64 summary_buf) {
    Bytes params = read_input(params_buf);
    Bytes state = read_input(state_buf);
    Bytes summary = read_input(summary_buf);
    u32 max_len;
    if (!max_len_of(params, &max_len)) return contract_err_cstr(KIND_STATE_DELTA, CERR_DESER, PARAMS_MSG);
    if (summary.len != 8) return contract_err_unit(KIND_STATE_DELTA, CERR_INVALID_DELTA);
    u64 n = rd_le64(summary.ptr);
    if (n > state.len) return contract_err_unit(KIND_STATE_DELTA, CERR_INVALID_DELTA);

    Writer w = writer(4 + 8 + state.len - (u32)n);
    wr_tag(&w, RESULT_OK);
    wr_bytes(&w, state.ptr + n, state.len - (u32)n);
    return contract_result_w(KIND_STATE_DELTA, &w);
}
