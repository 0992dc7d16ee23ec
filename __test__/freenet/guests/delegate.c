/*
 * Test delegate (one-shot buffers): process(params, origin, inbound) -> i64.
 *
 * The result is bincode Result<Vec<OutboundDelegateMsg>, DelegateError> behind
 * a DelegateInterfaceResult { ptr: i64, size: u32 }. An inbound
 * ApplicationMessage carries an ASCII command in its payload; replies are
 * ApplicationMessage { payload, context: empty, processed: true } unless
 * stated otherwise:
 *
 *   echo:<rest>              payload = rest
 *   ctx-set:<bytes>          ctx_write(bytes); payload "ok" (or "err:<code>" if it fails)
 *   ctx-get                  payload = context bytes (ctx_len + ctx_read), or "err:<code>"
 *   ctx-msg                  payload = the inbound message's own `context` field
 *   secret-set:<k>=<v>       payload = decimal code of set_secret (split at the first '=')
 *   secret-get:<k>           get_secret_len, then get_secret into a buffer that size;
 *                            payload = value, or "err:<code>" when either is negative
 *                            (a length of 0 answers an empty value without calling get_secret)
 *   secret-get-small:<k>     get_secret into a 1-byte buffer; payload = value or "err:<code>"
 *   secret-has:<k>           "1" / "0" from has_secret, "err:<code>" for anything else
 *   secret-del:<k>           payload = decimal code of remove_secret
 *   origin                   payload = the raw origin buffer bytes
 *   params                   payload = the parameter bytes
 *   log:<msg>                logger(msg); payload "ok"
 *   rand:<n>                 payload = n random bytes (n decimal, < 2^31)
 *   time                     payload = the 12 bytes utc_now writes
 *   get:<32 bytes>           [GetContractRequest { id, context: current ctx bytes, processed: false }]
 *   subscribe:<32 bytes>     [SubscribeContractRequest { id, context: empty, processed: false }]
 *   update:<32 bytes><delta> [UpdateContractRequest { id, update: UpdateData::Delta(delta),
 *                             context: empty, processed: false }]
 *   send:<32 key><32 code hash><payload>
 *                            [SendDelegateMessage(DelegateMessage { target: DelegateKey { key, code_hash },
 *                             sender: all-zero key, payload, context: empty, processed: false })]
 *   ctx-updated:<bytes>      [ContextUpdated(bytes), ApplicationMessage "after"]
 *   two                      [ApplicationMessage "a", ApplicationMessage "b"]
 *   unsubscribe:<32 bytes>   [UnsubscribeContractRequest { id, context: empty, processed: false }]
 *                            (freenet-stdlib 0.12's outbound variant 8)
 *   app-unsubscribe:<32 bytes> [ApplicationMessage "a", UnsubscribeContractRequest { id, .. }]
 *   app-send:<32 key><32 code hash>
 *                            [ApplicationMessage "a", SendDelegateMessage { target, sender: all
 *                             zero, payload "p", processed: false }]
 *   wait:<ms>                spins on utc_now until <ms> milliseconds passed; payload "waited"
 *   fail:<msg>               Err(DelegateError::Other(msg))
 *   deser                    Err(DelegateError::Deser("deser"))
 *
 *
 * Built with -DFREENET_0_2_154 (delegate_0_2_154.wasm: freenet-stdlib 0.12's
 * imports and variants; scripts/build-guests.mjs appends the freenet-manifest
 * section delegate_0_2_154.manifest.json), also:
 *
 *   list:<prefix>            list_secrets_len, then list_secrets into a buffer that size;
 *                            payload = the records (u32 LE length + key), or "err:<code>"
 *   list-small:<prefix>      list_secrets into a buffer one byte short; payload = "rc:<code>"
 *   list-lie:<case>          list_secrets(_len) with a lying argument; payload = "rc:<code>":
 *                            prefix-past-memory, prefix-negative, prefix-overflow,
 *                            empty-prefix-bad-pointer, out-past-memory, out-negative,
 *                            out-overflow, len-prefix-past-memory
 *
 * and answers WakeupFired with "wake:<tag>", Lifecycle with "life:" and the
 * event's bincode (u32 variant, then for NodeStarted the Option<u64>).
 *
 * A malformed key length for get/subscribe/update/send, a bad number for
 * rand, a secret-set without '=' and an unknown command answer
 * Err(DelegateError::Other(<reason>)). Any other inbound variant answers
 * [ApplicationMessage "got:<variant index>"]. Inbound bytes that do not
 * decode answer Err(DelegateError::Deser(..)), as stdlib's macro does.
 */
#include "freenet_guest.h"

/* Current context bytes; *code is the first negative host return, else 0. */
static Bytes current_ctx(i32 *code) {
    Bytes out;
    out.ptr = 0;
    out.len = 0;
    *code = 0;
    i32 len = host_ctx_len();
    if (len < 0) {
        *code = len;
        return out;
    }
    u8 *buf = (u8 *)alloc((u32)len);
    out.ptr = buf;
    if (len == 0) return out;
    i32 got = host_ctx_read(ptr64(buf), len);
    if (got < 0) {
        *code = got;
        return out;
    }
    out.len = (u32)got < (u32)len ? (u32)got : (u32)len;
    return out;
}

static i64 secret_get(const u8 *key, u32 key_len, int small) {
    i32 len = small ? 1 : host_get_secret_len(ptr64(key), (i32)key_len);
    if (len < 0) return delegate_reply_err_code(len);
    if (len == 0) return delegate_reply("", 0);
    u8 *out = (u8 *)alloc((u32)len);
    i32 got = host_get_secret(ptr64(key), (i32)key_len, ptr64(out), len);
    if (got < 0) return delegate_reply_err_code(got);
    return delegate_reply(out, (u32)got < (u32)len ? (u32)got : (u32)len);
}

/* Ok(vec![<one message>]) header */
static Writer one_message(u32 extra) {
    Writer w = writer(64 + extra);
    wr_tag(&w, RESULT_OK);
    wr_u64(&w, 1);
    return w;
}

static i64 bad(const char *why) { return delegate_err_cstr(DERR_OTHER, why); }

/* Reply "rc:<code>" */
static i64 reply_rc(i64 code) {
    Writer p = writer(28);
    wr_raw(&p, "rc:", 3);
    wr_decimal_raw(&p, code);
    return delegate_reply(p.p, p.len);
}

/* Milliseconds of the day from the 12 bytes utc_now writes. */
static i64 now_ms(void) {
    u8 now[12];
    host_utc_now(g_instance_id, ptr64(now));
    return (i64)rd_le32(now + 4) * 1000 + (i64)(rd_le32(now + 8) / 1000000);
}

#ifdef FREENET_0_2_154

static i64 list(const u8 *prefix, u32 len, int small) {
    i32 need = host_list_secrets_len(ptr64(prefix), (i32)len);
    if (need < 0) return delegate_reply_err_code(need);
    if (small) {
        u8 *out = (u8 *)alloc((u32)need);
        return reply_rc(host_list_secrets(ptr64(prefix), (i32)len, ptr64(out), need - 1));
    }
    u8 *out = (u8 *)alloc((u32)need);
    i32 got = host_list_secrets(ptr64(prefix), (i32)len, ptr64(out), need);
    if (got < 0) return delegate_reply_err_code(got);
    return delegate_reply(out, (u32)got);
}

static i64 list_lie(const u8 *p, u32 n) {
    u8 *buf = (u8 *)alloc(64);
    const i64 past = (i64)__builtin_wasm_memory_size(0) * 65536;
    const i64 huge = 0x7fffffffffffffffLL;
    if (equals(p, n, "prefix-past-memory")) return reply_rc(host_list_secrets(past, 4, ptr64(buf), 64));
    if (equals(p, n, "prefix-negative")) return reply_rc(host_list_secrets(ptr64(buf), -1, ptr64(buf), 64));
    if (equals(p, n, "prefix-overflow")) return reply_rc(host_list_secrets(huge, 8, ptr64(buf), 64));
    if (equals(p, n, "empty-prefix-bad-pointer")) return reply_rc(host_list_secrets(-5, 0, ptr64(buf), 64));
    if (equals(p, n, "out-past-memory")) return reply_rc(host_list_secrets(ptr64(buf), 0, past - 2, 64));
    if (equals(p, n, "out-negative")) return reply_rc(host_list_secrets(ptr64(buf), 0, ptr64(buf), -1));
    if (equals(p, n, "out-overflow")) return reply_rc(host_list_secrets(ptr64(buf), 0, huge - 1, 64));
    if (equals(p, n, "len-prefix-past-memory")) return reply_rc(host_list_secrets_len(past - 1, 2));
    return bad("unknown list-lie case");
}
#endif

static i64 run(Bytes params, Bytes origin, Inbound *in) {
    const u8 *p = in->payload.ptr;
    u32 n = in->payload.len;

#define ARG_AFTER(prefix) (p + sizeof(prefix) - 1), (n - (u32)(sizeof(prefix) - 1))
#define IS(prefix) starts_with(p, n, prefix)

    if (IS("echo:")) return delegate_reply(ARG_AFTER("echo:"));

    if (IS("ctx-set:")) {
        i32 rc = host_ctx_write(ptr64(p + 8), (i32)(n - 8));
        return rc == 0 ? delegate_reply_cstr("ok") : delegate_reply_err_code(rc);
    }
    if (equals(p, n, "ctx-get")) {
        i32 code;
        Bytes ctx = current_ctx(&code);
        return code ? delegate_reply_err_code(code) : delegate_reply(ctx.ptr, ctx.len);
    }
    if (equals(p, n, "ctx-msg")) return delegate_reply(in->context.ptr, in->context.len);
    if (IS("ctx-updated:")) {
        const u8 *bytes = p + 12;
        u32 len = n - 12;
        Writer w = writer(64 + len);
        wr_tag(&w, RESULT_OK);
        wr_u64(&w, 2);
        wr_tag(&w, OUT_CONTEXT_UPDATED);
        wr_bytes(&w, bytes, len);
        wr_app_message(&w, "after", 5, 0, 0, 1);
        return delegate_result_w(&w);
    }

    if (IS("secret-set:")) {
        const u8 *kv = p + 11;
        u32 len = n - 11;
        u32 eq = 0;
        while (eq < len && kv[eq] != '=') eq++;
        if (eq == len) return bad("secret-set needs <key>=<value>");
        i32 rc = host_set_secret(ptr64(kv), (i32)eq, ptr64(kv + eq + 1), (i32)(len - eq - 1));
        return delegate_reply_code(rc);
    }
    if (IS("secret-get-small:")) return secret_get(ARG_AFTER("secret-get-small:"), 1);
    if (IS("secret-get:")) return secret_get(ARG_AFTER("secret-get:"), 0);
    if (IS("secret-has:")) {
        i32 rc = host_has_secret(ptr64(p + 11), (i32)(n - 11));
        if (rc == 1) return delegate_reply_cstr("1");
        if (rc == 0) return delegate_reply_cstr("0");
        return delegate_reply_err_code(rc);
    }
    if (IS("secret-del:")) return delegate_reply_code(host_remove_secret(ptr64(p + 11), (i32)(n - 11)));

    if (equals(p, n, "origin")) return delegate_reply(origin.ptr, origin.len);
    if (equals(p, n, "params")) return delegate_reply(params.ptr, params.len);

    if (IS("log:")) {
        host_log_info(g_instance_id, ptr64(p + 4), (i32)(n - 4));
        return delegate_reply_cstr("ok");
    }
    if (IS("rand:")) {
        i64 count = parse_decimal(ARG_AFTER("rand:"));
        if (count < 0) return bad("rand needs a decimal byte count");
        u8 *buf = (u8 *)alloc((u32)count);
        memset(buf, 0, (u32)count);
        host_rand_bytes(g_instance_id, ptr64(buf), (i32)count);
        return delegate_reply(buf, (u32)count);
    }
    if (equals(p, n, "time")) {
        u8 *now = (u8 *)alloc(12);
        memset(now, 0, 12);
        host_utc_now(g_instance_id, ptr64(now));
        return delegate_reply(now, 12);
    }

    if (IS("get:")) {
        if (n - 4 != 32) return bad("get needs a 32-byte contract id");
        i32 code;
        Bytes ctx = current_ctx(&code); /* an error reads as an empty context, as DelegateCtx::read does */
        Writer w = one_message(ctx.len);
        wr_tag(&w, OUT_GET_CONTRACT_REQUEST);
        wr_raw(&w, p + 4, 32);
        wr_bytes(&w, ctx.ptr, ctx.len);
        wr_bool(&w, 0);
        return delegate_result_w(&w);
    }
    if (IS("subscribe:")) {
        if (n - 10 != 32) return bad("subscribe needs a 32-byte contract id");
        Writer w = one_message(0);
        wr_tag(&w, OUT_SUBSCRIBE_CONTRACT_REQUEST);
        wr_raw(&w, p + 10, 32);
        wr_bytes(&w, 0, 0);
        wr_bool(&w, 0);
        return delegate_result_w(&w);
    }
    if (IS("update:")) {
        if (n - 7 < 32) return bad("update needs a 32-byte contract id");
        const u8 *delta = p + 7 + 32;
        u32 len = n - 7 - 32;
        Writer w = one_message(len);
        wr_tag(&w, OUT_UPDATE_CONTRACT_REQUEST);
        wr_raw(&w, p + 7, 32);
        wr_tag(&w, UD_DELTA);
        wr_bytes(&w, delta, len);
        wr_bytes(&w, 0, 0);
        wr_bool(&w, 0);
        return delegate_result_w(&w);
    }
    if (IS("send:")) {
        if (n - 5 < 64) return bad("send needs a 32-byte key and a 32-byte code hash");
        const u8 *payload = p + 5 + 64;
        u32 len = n - 5 - 64;
        u8 zero[64];
        memset(zero, 0, sizeof zero);
        Writer w = one_message(64 + len);
        wr_tag(&w, OUT_SEND_DELEGATE_MESSAGE);
        wr_raw(&w, p + 5, 64); /* target: DelegateKey { key: [u8; 32], code_hash: [u8; 32] } */
        wr_raw(&w, zero, 64);  /* sender: DelegateKey, all zero (the runtime attests it) */
        wr_bytes(&w, payload, len);
        wr_bytes(&w, 0, 0);
        wr_bool(&w, 0);
        return delegate_result_w(&w);
    }
    if (equals(p, n, "two")) {
        Writer w = writer(64);
        wr_tag(&w, RESULT_OK);
        wr_u64(&w, 2);
        wr_app_message(&w, "a", 1, 0, 0, 1);
        wr_app_message(&w, "b", 1, 0, 0, 1);
        return delegate_result_w(&w);
    }

#ifdef FREENET_0_2_154
    if (IS("list:")) return list(ARG_AFTER("list:"), 0);
    if (IS("list-small:")) return list(ARG_AFTER("list-small:"), 1);
    if (IS("list-lie:")) return list_lie(ARG_AFTER("list-lie:"));
#endif
    if (IS("unsubscribe:") || IS("app-unsubscribe:")) {
        int app = IS("app-unsubscribe:");
        const u8 *id = app ? p + 16 : p + 12;
        if ((u32)(p + n - id) != 32) return bad("unsubscribe needs a 32-byte contract id");
        Writer w = writer(96);
        wr_tag(&w, RESULT_OK);
        wr_u64(&w, app ? 2 : 1);
        if (app) wr_app_message(&w, "a", 1, 0, 0, 1);
        wr_tag(&w, OUT_UNSUBSCRIBE_CONTRACT_REQUEST);
        wr_raw(&w, id, 32);
        wr_bytes(&w, 0, 0);
        wr_bool(&w, 0);
        return delegate_result_w(&w);
    }
    if (IS("app-send:")) {
        if (n - 9 != 64) return bad("app-send needs a 32-byte key and a 32-byte code hash");
        u8 zero[64];
        memset(zero, 0, sizeof zero);
        Writer w = writer(192);
        wr_tag(&w, RESULT_OK);
        wr_u64(&w, 2);
        wr_app_message(&w, "a", 1, 0, 0, 1);
        wr_tag(&w, OUT_SEND_DELEGATE_MESSAGE);
        wr_raw(&w, p + 9, 64);
        wr_raw(&w, zero, 64);
        wr_bytes(&w, "p", 1);
        wr_bytes(&w, 0, 0);
        wr_bool(&w, 0);
        return delegate_result_w(&w);
    }
    if (IS("wait:")) {
        i64 ms = parse_decimal(ARG_AFTER("wait:"));
        if (ms < 0) return bad("wait needs a decimal number of milliseconds");
        i64 start = now_ms();
        while (now_ms() - start < ms) {
        }
        return delegate_reply_cstr("waited");
    }

    if (IS("fail:")) return delegate_err(DERR_OTHER, ARG_AFTER("fail:"));
    if (equals(p, n, "deser")) return delegate_err_cstr(DERR_DESER, "deser");

    return bad("unknown command");
#undef IS
#undef ARG_AFTER
}

GUEST_EXPORT("process") i64 process(i64 params_buf, i64 origin_buf, i64 inbound_buf) {
    Bytes params = read_oneshot(params_buf);
    Bytes origin = read_oneshot(origin_buf);
    Bytes inbound = read_oneshot(inbound_buf);
    Inbound in;
    if (decode_inbound(inbound, &in) != 0) return delegate_err_cstr(DERR_DESER, "inbound: invalid bincode");
#ifdef FREENET_0_2_154
    if (in.tag == IN_WAKEUP_FIRED || in.tag == IN_LIFECYCLE) {
        Writer payload = writer(8 + in.payload.len);
        wr_raw(&payload, in.tag == IN_WAKEUP_FIRED ? "wake:" : "life:", 5);
        wr_raw(&payload, in.payload.ptr, in.payload.len);
        return delegate_reply(payload.p, payload.len);
    }
#endif
    if (in.tag != IN_APPLICATION_MESSAGE) {
        Writer payload = writer(8);
        wr_raw(&payload, "got:", 4);
        wr_decimal_raw(&payload, in.tag);
        return delegate_reply(payload.p, payload.len);
    }
    return run(params, origin, &in);
}
