/*
 * Test V2 delegate: imports freenet_delegate_contracts (which makes the engine
 * run it through its async-imports path). One-shot buffers,
 * process(params, origin, inbound) -> i64 like delegate.c.
 *
 * Commands in an inbound ApplicationMessage payload; every reply is
 * [ApplicationMessage { payload, context: empty, processed: true }]:
 *
 *   echo:<rest>              payload = rest
 *   cget:<32 bytes>          get_contract_state_len(id, 32), then get_contract_state(id, 32, buf, len);
 *                            payload = state, or "err:<code>" when either is negative
 *                            (a length of 0 answers an empty state without the second call)
 *   cput:<32 bytes><state>   payload = decimal code of put_contract_state(id, 32, state, len)
 *   cupdate:<32 bytes><state> payload = decimal code of update_contract_state(id, 32, state, len)
 *   csub:<32 bytes>          payload = decimal code of subscribe_contract(id, 32)
 *
 * A wrong id length or an unknown command answers Err(DelegateError::Other(..));
 * any other inbound variant answers "got:<variant index>"; undecodable inbound
 * bytes answer Err(DelegateError::Deser(..)).
 */
#include "freenet_guest.h"

static i64 bad(const char *why) { return delegate_err_cstr(DERR_OTHER, why); }

static i64 run(Inbound *in) {
    const u8 *p = in->payload.ptr;
    u32 n = in->payload.len;

    if (starts_with(p, n, "echo:")) return delegate_reply(p + 5, n - 5);

    if (starts_with(p, n, "cget:")) {
        if (n - 5 != 32) return bad("cget needs a 32-byte contract id");
        const u8 *id = p + 5;
        i64 len = host_get_contract_state_len(ptr64(id), 32);
        if (len < 0) return delegate_reply_err_code(len);
        if (len == 0) return delegate_reply("", 0);
        if (len > 0x7fffffff) return bad("state too large");
        u8 *buf = (u8 *)alloc((u32)len);
        i64 got = host_get_contract_state(ptr64(id), 32, ptr64(buf), len);
        if (got < 0) return delegate_reply_err_code(got);
        return delegate_reply(buf, got < len ? (u32)got : (u32)len);
    }
    if (starts_with(p, n, "cput:")) {
        if (n - 5 < 32) return bad("cput needs a 32-byte contract id");
        return delegate_reply_code(host_put_contract_state(ptr64(p + 5), 32, ptr64(p + 37), (i64)(n - 37)));
    }
    if (starts_with(p, n, "cupdate:")) {
        if (n - 8 < 32) return bad("cupdate needs a 32-byte contract id");
        return delegate_reply_code(host_update_contract_state(ptr64(p + 8), 32, ptr64(p + 40), (i64)(n - 40)));
    }
    if (starts_with(p, n, "csub:")) {
        if (n - 5 != 32) return bad("csub needs a 32-byte contract id");
        return delegate_reply_code(host_subscribe_contract(ptr64(p + 5), 32));
    }
    return bad("unknown command");
}

GUEST_EXPORT("process") i64 process(i64 params_buf, i64 origin_buf, i64 inbound_buf) {
    (void)params_buf;
    (void)origin_buf;
    Inbound in;
    if (decode_inbound(read_oneshot(inbound_buf), &in) != 0)
        return delegate_err_cstr(DERR_DESER, "inbound: invalid bincode");
    if (in.tag != IN_APPLICATION_MESSAGE) {
        Writer payload = writer(8);
        wr_raw(&payload, "got:", 4);
        wr_decimal_raw(&payload, in.tag);
        return delegate_reply(payload.p, payload.len);
    }
    return run(&in);
}
