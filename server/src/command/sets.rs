//! sets commands (being written).
use super::{CmdError, CmdResult, Ctx};
macro_rules! pending { ($($n:ident),*) => { $(pub fn $n(_ctx: &mut Ctx) -> CmdResult { Err(CmdError::err("pending")) })* } }
pending!(
    sadd,
    srem,
    smembers,
    sismember,
    smismember,
    scard,
    spop,
    srandmember,
    smove,
    sinter,
    sintercard,
    sunion,
    sdiff,
    sinterstore,
    sunionstore,
    sdiffstore,
    sscan
);
