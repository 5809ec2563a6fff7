//! sort commands (being written).
use super::{CmdError, CmdResult, Ctx};
macro_rules! pending { ($($n:ident),*) => { $(pub fn $n(_ctx: &mut Ctx) -> CmdResult { Err(CmdError::err("pending")) })* } }
pending!(sort, sort_ro);
