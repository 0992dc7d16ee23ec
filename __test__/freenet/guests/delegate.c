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
 *   fail:<msg>               Err(DelegateError::Other(msg))
 *   deser                    Err(DelegateError::Deser("deser"))
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
    if (in.tag != IN_APPLICATION_MESSAGE) {
        Writer payload = writer(8);
        wr_raw(&payload, "got:", 4);
        wr_decimal_raw(&payload, in.tag);
        return delegate_reply(payload.p, payload.len);
    }
    return run(params, origin, &in);
}
