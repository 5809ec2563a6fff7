//! String commands (being written).
use super::{CmdError, CmdResult, Ctx};
macro_rules! pending { ($($n:ident),*) => { $(pub fn $n(_ctx: &mut Ctx) -> CmdResult { Err(CmdError::err("pending")) })* } }
pending!(
    set,
    get,
    getset,
    getdel,
    getex,
    mset,
    msetnx,
    mget,
    append,
    strlen,
    incr,
    decr,
    incrby,
    decrby,
    incrbyfloat,
    setnx,
    setex,
    psetex,
    getrange,
    setrange,
    setbit,
    getbit,
    bitcount,
    bitpos,
    bitop
);
