//! Seeded randomness and the 40-hex ids Redis uses (run ids, replication ids, sentinel ids).
//!
//! All randomness of server and sentinel comes from a [`Rng`] seeded at start: from the OS in
//! the binaries, from the simulation seed under turmoil. The algorithm is named (Xoshiro256++)
//! so a seed replays across crate upgrades.

use rand::{RngExt, SeedableRng};

pub type Rng = rand::rngs::Xoshiro256PlusPlus;

/// A generator seeded with `seed`.
pub fn seeded(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

/// A seed from the operating system's entropy, for the binaries.
pub fn os_seed() -> u64 {
    let mut r: rand::rngs::StdRng = rand::make_rng();
    r.random()
}

/// Derive an independent generator for a sub-component (e.g. a per-connection sampler) so that
/// adding a consumer in one place does not shift the draws of another.
pub fn fork(rng: &mut Rng) -> Rng {
    Rng::seed_from_u64(rng.random())
}

/// 40 lowercase hex characters, as Redis's `getRandomHexChars(…, CONFIG_RUN_ID_SIZE)`.
pub fn random_hex40(rng: &mut Rng) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    (0..40)
        .map(|_| HEX[rng.random_range(0..16usize)] as char)
        .collect()
}

/// True if `s` is a well-formed 40-hex id.
pub fn is_hex40(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_ids() {
        let a = random_hex40(&mut seeded(7));
        let b = random_hex40(&mut seeded(7));
        assert_eq!(a, b);
        assert!(is_hex40(&a));
        assert_ne!(a, random_hex40(&mut seeded(8)));
    }
}
