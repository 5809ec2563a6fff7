//! DEBUG PROTOCOL <type>: one sample reply of each RESP type, as Redis 7.0 writes it, for
//! client libraries to test their parsers with, in RESP2 and RESP3.

use super::super::args::lower;
use super::super::{CmdError, CmdResult, Ctx};

pub fn protocol(ctx: &mut Ctx) -> CmdResult {
    let out = &mut *ctx.out;
    let resp3 = out.resp3();
    match lower(&ctx.args[2]).as_str() {
        "string" => out.bulk(b"Hello World"),
        "integer" => out.int(12345),
        // Redis's sample value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        "double" => out.double(3.141),
        "bignum" => {
            const BIG: &str = "1234567999999999999999999999999999999";
            if resp3 {
                out.raw(format!("({BIG}\r\n").as_bytes());
            } else {
                out.bulk(BIG.as_bytes());
            }
        }
        "null" => out.null(),
        "array" => {
            out.array(3);
            (0..3).for_each(|j| out.int(j));
        }
        "set" => {
            out.set(3);
            (0..3).for_each(|j| out.int(j));
        }
        "map" => {
            out.map(3);
            for j in 0..3 {
                out.int(j);
                out.boolean(j == 1);
            }
        }
        "attrib" => {
            // RESP2 has no attributes: only the reply that follows one.
            if resp3 {
                out.raw(b"|1\r\n");
                out.bulk(b"key-popularity");
                out.array(2);
                out.bulk(b"key:123");
                out.int(90);
            }
            out.bulk(b"Some real reply following the attribute");
        }
        "push" => {
            if !resp3 {
                return Err(CmdError::err("RESP2 is not supported by this command"));
            }
            out.push(2);
            out.bulk(b"server-cpu-usage");
            out.int(42);
            // A push is not the reply: the real one follows, for clients that wait for it.
            out.bulk(b"Some real reply following the push reply");
        }
        "true" => out.boolean(true),
        "false" => out.boolean(false),
        "verbatim" => out.verbatim("txt", b"This is a verbatim\nstring"),
        _ => {
            return Err(CmdError::err(
                "Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
            ))
        }
    }
    Ok(())
}
