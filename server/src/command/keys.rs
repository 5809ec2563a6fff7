//! Keyspace commands (being written).
use super::{CmdError, CmdResult, Ctx};
macro_rules! pending { ($($n:ident),*) => { $(pub fn $n(_ctx: &mut Ctx) -> CmdResult { Err(CmdError::err("pending")) })* } }
pending!(
    flushdb,
    flushall,
    swapdb,
    del,
    exists,
    type_,
    expire,
    pexpire,
    expireat,
    pexpireat,
    ttl,
    pttl,
    expiretime,
    pexpiretime,
    persist,
    rename,
    renamenx,
    copy,
    move_,
    touch,
    keys,
    scan,
    randomkey,
    object_encoding,
    object_freq,
    object_idletime,
    object_refcount,
    object_help
);
