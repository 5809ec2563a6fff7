//! RDB primitives, as Redis 7.0's `rdb.c`: length encoding, strings (raw, integer-encoded,
//! LZF-compressed), doubles, millisecond times, and the opcodes and type bytes.

use thiserror::Error;

use super::lzf;

pub const RDB_VERSION: u32 = 10;
/// The newest RDB version this reader understands (Redis 7.2 writes 11).
pub const RDB_VERSION_MAX: u32 = 11;

pub mod op {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

pub mod ty {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
}

/// Quicklist node containers (RDB_TYPE_LIST_QUICKLIST_2).
pub const QUICKLIST_NODE_PLAIN: u64 = 1;
pub const QUICKLIST_NODE_PACKED: u64 = 2;

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Why a file could not be read; `at` is the byte offset where the problem was found.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RdbError {
    #[error("unexpected end of file at offset {at}")]
    Truncated { at: usize },
    #[error("{what} at offset {at}")]
    Corrupt { what: String, at: usize },
}

impl RdbError {
    pub fn corrupt(what: impl Into<String>, at: usize) -> Self {
        RdbError::Corrupt {
            what: what.into(),
            at,
        }
    }
    /// The offset the error names.
    pub fn offset(&self) -> usize {
        match self {
            RdbError::Truncated { at } | RdbError::Corrupt { at, .. } => *at,
        }
    }
}

/// A length, or a string encoding marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Len {
    Len(u64),
    Encoded(u8),
}

/// Reads RDB primitives from a byte slice, tracking the offset for error messages.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// Offset of `data[0]` in the whole file (for messages when reading a nested blob).
    base: usize,
    /// Offset in the whole input where it ends: lengths are checked against what remains up
    /// to there. The end of `data`, unless `data` is a window on a longer input.
    end: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader {
            data,
            pos: 0,
            base: 0,
            end: data.len(),
        }
    }

    pub fn with_base(data: &'a [u8], base: usize) -> Self {
        Reader {
            data,
            pos: 0,
            base,
            end: base + data.len(),
        }
    }

    /// A window on a longer input that ends at offset `end` (`usize::MAX` when unknown):
    /// `data` starts at offset `base`. Reading past the window is `Truncated` at its end;
    /// a length longer than what remains up to `end` is implausible, as in a whole file.
    pub fn window(data: &'a [u8], base: usize, end: usize) -> Self {
        Reader {
            data,
            pos: 0,
            base,
            end: end.max(base + data.len()),
        }
    }

    /// What remains of the whole input (not only of the window).
    fn input_remaining(&self) -> usize {
        self.end - self.offset()
    }

    /// Offset in the file.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], RdbError> {
        if self.remaining() < n {
            return Err(RdbError::Truncated {
                at: self.base + self.data.len(),
            });
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn u8(&mut self) -> Result<u8, RdbError> {
        Ok(self.bytes(1)?[0])
    }

    pub fn u32_le(&mut self) -> Result<u32, RdbError> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64_le(&mut self) -> Result<u64, RdbError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A length or an encoding marker (`rdbLoadLenByRef`).
    pub fn len_or_enc(&mut self) -> Result<Len, RdbError> {
        let at = self.offset();
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Len::Len((b & 0x3f) as u64),
            1 => Len::Len((((b & 0x3f) as u64) << 8) | self.u8()? as u64),
            2 => match b {
                0x80 => {
                    let x = self.bytes(4)?;
                    Len::Len(u32::from_be_bytes([x[0], x[1], x[2], x[3]]) as u64)
                }
                0x81 => {
                    let x = self.bytes(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(x);
                    Len::Len(u64::from_be_bytes(a))
                }
                _ => {
                    return Err(RdbError::corrupt(
                        format!("unknown length encoding {b:#x}"),
                        at,
                    ))
                }
            },
            _ => Len::Encoded(b & 0x3f),
        })
    }

    /// A plain length (an encoding marker is an error here).
    pub fn len(&mut self) -> Result<u64, RdbError> {
        let at = self.offset();
        match self.len_or_enc()? {
            Len::Len(n) => Ok(n),
            Len::Encoded(_) => Err(RdbError::corrupt("unexpected string encoding", at)),
        }
    }

    /// A length used as a count or size in memory: every element or byte it counts takes at
    /// least a byte of what remains, so a corrupt length cannot ask for a huge allocation.
    pub fn count(&mut self) -> Result<usize, RdbError> {
        let at = self.offset();
        let n = self.len()?;
        if n > self.input_remaining() as u64 {
            return Err(RdbError::corrupt(format!("implausible length {n}"), at));
        }
        Ok(n as usize)
    }

    /// A string in any encoding (`rdbGenericLoadStringObject`).
    pub fn string(&mut self) -> Result<Vec<u8>, RdbError> {
        let at = self.offset();
        match self.len_or_enc()? {
            Len::Len(n) => {
                if n > self.remaining() as u64 {
                    return Err(RdbError::Truncated {
                        at: self.base + self.data.len(),
                    });
                }
                Ok(self.bytes(n as usize)?.to_vec())
            }
            Len::Encoded(ENC_INT8) => Ok((self.u8()? as i8).to_string().into_bytes()),
            Len::Encoded(ENC_INT16) => {
                let b = self.bytes(2)?;
                Ok(i16::from_le_bytes([b[0], b[1]]).to_string().into_bytes())
            }
            Len::Encoded(ENC_INT32) => {
                let b = self.bytes(4)?;
                Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]])
                    .to_string()
                    .into_bytes())
            }
            Len::Encoded(ENC_LZF) => {
                let clen = self.count()?;
                let len = self.len()?;
                if len > 1 << 40 {
                    return Err(RdbError::corrupt("implausible string length", at));
                }
                let data = self.bytes(clen)?;
                lzf::decompress(data, len as usize)
                    .map_err(|e| RdbError::corrupt(format!("bad LZF string: {e}"), at))
            }
            Len::Encoded(e) => Err(RdbError::corrupt(
                format!("unknown string encoding {e}"),
                at,
            )),
        }
    }

    /// A double in the old string form (`rdbLoadDoubleValue`, RDB_TYPE_ZSET).
    pub fn double_str(&mut self) -> Result<f64, RdbError> {
        let at = self.offset();
        let n = self.u8()?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let s = self.bytes(n as usize)?;
                std::str::from_utf8(s)
                    .ok()
                    .and_then(|t| t.parse::<f64>().ok())
                    .ok_or_else(|| RdbError::corrupt("bad double value", at))
            }
        }
    }

    /// A binary double (`rdbLoadBinaryDoubleValue`).
    pub fn double_bin(&mut self) -> Result<f64, RdbError> {
        Ok(f64::from_bits(self.u64_le()?))
    }
}

/// Writes RDB primitives into a growing buffer.
#[derive(Debug, Default)]
pub struct Writer {
    pub buf: Vec<u8>,
    /// Try LZF on strings longer than 20 bytes (`rdbcompression`).
    pub compress: bool,
}

impl Writer {
    pub fn new(compress: bool) -> Self {
        Writer {
            buf: Vec::new(),
            compress,
        }
    }

    pub fn u8(&mut self, b: u8) {
        self.buf.push(b);
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// `rdbSaveLen`.
    pub fn len(&mut self, n: u64) {
        if n < 1 << 6 {
            self.buf.push(n as u8);
        } else if n < 1 << 14 {
            self.buf.push(0x40 | (n >> 8) as u8);
            self.buf.push(n as u8);
        } else if n <= u32::MAX as u64 {
            self.buf.push(0x80);
            self.buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.buf.push(0x81);
            self.buf.extend_from_slice(&n.to_be_bytes());
        }
    }

    /// An integer as the shortest integer string encoding, if it fits 32 bits
    /// (`rdbEncodeInteger`).
    fn int_encoded(&mut self, v: i64) -> bool {
        if let Ok(x) = i8::try_from(v) {
            self.buf.push(0xC0 | ENC_INT8);
            self.buf.push(x as u8);
        } else if let Ok(x) = i16::try_from(v) {
            self.buf.push(0xC0 | ENC_INT16);
            self.buf.extend_from_slice(&x.to_le_bytes());
        } else if let Ok(x) = i32::try_from(v) {
            self.buf.push(0xC0 | ENC_INT32);
            self.buf.extend_from_slice(&x.to_le_bytes());
        } else {
            return false;
        }
        true
    }

    /// A string as Redis saves it (`rdbSaveRawString`): integer-encoded when it is the
    /// canonical form of a 32-bit integer, LZF-compressed when longer than 20 bytes and
    /// compression helps, raw otherwise.
    pub fn string(&mut self, s: &[u8]) {
        if s.len() <= 11 {
            if let Some(v) = picket_common::sds::string2ll(s) {
                if self.int_encoded(v) {
                    return;
                }
            }
        }
        if self.compress && s.len() > 20 {
            if let Some(c) = lzf::compress(s, s.len() - 4) {
                self.buf.push(0xC0 | ENC_LZF);
                self.len(c.len() as u64);
                self.len(s.len() as u64);
                self.buf.extend_from_slice(&c);
                return;
            }
        }
        self.len(s.len() as u64);
        self.buf.extend_from_slice(s);
    }

    /// An integer value as a string (`rdbSaveLongLongAsStringObject`).
    pub fn int_string(&mut self, v: i64) {
        if !self.int_encoded(v) {
            let s = v.to_string();
            self.len(s.len() as u64);
            self.buf.extend_from_slice(s.as_bytes());
        }
    }

    pub fn double_bin(&mut self, d: f64) {
        self.buf.extend_from_slice(&d.to_bits().to_le_bytes());
    }

    pub fn u64_le(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn aux(&mut self, key: &str, value: &[u8]) {
        self.u8(op::AUX);
        self.string(key.as_bytes());
        self.string(value);
    }
}

/// CRC-64 as Redis computes it over the file (Jones polynomial, reflected).
/// Slice-by-16 tables, as Redis's `crcspeed`: several times faster than a byte at a time on
/// the hundreds of megabytes of a big file.
pub type Crc64Table = crc::Table<16>;
pub static CRC64: crc::Crc<u64, Crc64Table> = crc::Crc::<u64, Crc64Table>::new(&crc::CRC_64_REDIS);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_at_every_boundary() {
        for n in [
            0u64,
            63,
            64,
            16383,
            16384,
            u32::MAX as u64,
            u32::MAX as u64 + 1,
            u64::MAX,
        ] {
            let mut w = Writer::new(false);
            w.len(n);
            let mut r = Reader::new(&w.buf);
            assert_eq!(r.len().unwrap(), n);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn strings_in_every_encoding() {
        let long = b"0123456789".repeat(20);
        for (s, compress) in [
            (&b"7"[..], false),
            (b"-100", false),
            (b"30000", false),
            (b"2147483647", false),
            (b"2147483648", false),
            (b"007", false),
            (b"", false),
            (&long[..], true),
            (&long[..], false),
        ] {
            let mut w = Writer::new(compress);
            w.string(s);
            let mut r = Reader::new(&w.buf);
            assert_eq!(r.string().unwrap(), s, "{:?}", String::from_utf8_lossy(s));
        }
        let mut w = Writer::new(true);
        w.string(&long);
        assert_eq!(w.buf[0], 0xC3, "compressed");
        let mut w = Writer::new(false);
        w.string(b"12");
        assert_eq!(w.buf, vec![0xC0, 12]);
    }

    #[test]
    fn crc64_is_redis_s() {
        assert_eq!(CRC64.checksum(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn truncation_and_corruption_name_the_offset() {
        let mut r = Reader::new(&[0x05, b'a']);
        assert_eq!(r.string(), Err(RdbError::Truncated { at: 2 }));
        let mut r = Reader::with_base(&[0xC7], 100);
        assert_eq!(r.string().unwrap_err().offset(), 100);
    }
}
