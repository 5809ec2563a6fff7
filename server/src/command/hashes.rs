//! hashes commands (being written).
use super::{CmdError, CmdResult, Ctx};
macro_rules! pending { ($($n:ident),*) => { $(pub fn $n(_ctx: &mut Ctx) -> CmdResult { Err(CmdError::err("pending")) })* } }
pending!(
    hset,
    hsetnx,
    hget,
    hmset,
    hmget,
    hgetall,
    hdel,
    hexists,
    hlen,
    hkeys,
    hvals,
    hincrby,
    hincrbyfloat,
    hstrlen,
    hrandfield,
    hscan
);
