//! A keyed hash for the state tables, seeded by the caller.
//!
//! std's `RandomState` asks the OS for its keys; core may not (sans-IO), and
//! tests and fuzzers must replay exactly. Keys here are small fixed-size
//! integers, so the hash is a folded multiply (the 128-bit product's halves
//! xored, as in foldhash and wyhash) of each word with secret keys derived
//! from the caller's seed. An attacker who picks ports and addresses without
//! knowing the seed cannot aim entries at one bucket; this is HashDoS
//! resistance of the "minimal" kind foldhash documents, not a MAC.

use std::hash::{BuildHasher, Hasher};

/// Builds [`KeyedHasher`]s with keys from one seed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyedState {
    k0: u64,
    k1: u64,
}

impl KeyedState {
    /// Keys derived from `seed` by SplitMix64.
    pub(crate) fn new(seed: u64) -> Self {
        let mut s = seed;
        let k0 = splitmix(&mut s);
        let k1 = splitmix(&mut s) | 1;
        Self { k0, k1 }
    }

    /// A one-off keyed hash of up to three words (port choice, RFC 6056).
    pub(crate) fn hash3(&self, a: u64, b: u64, c: u64) -> u64 {
        let mut h = self.build_hasher();
        h.write_u64(a);
        h.write_u64(b);
        h.write_u64(c);
        h.finish()
    }
}

impl BuildHasher for KeyedState {
    type Hasher = KeyedHasher;

    fn build_hasher(&self) -> KeyedHasher {
        KeyedHasher {
            acc: self.k0,
            k1: self.k1,
        }
    }
}

/// The hasher: `acc = fold(acc ^ word, k1)` per word.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyedHasher {
    acc: u64,
    k1: u64,
}

/// The 128-bit product of `a` and `b`, halves xored.
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a).wrapping_mul(u128::from(b));
    (p as u64) ^ ((p >> 64) as u64)
}

/// SplitMix64 step.
fn splitmix(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Hasher for KeyedHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            for (d, s) in word.iter_mut().zip(chunk) {
                *d = *s;
            }
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }

    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.acc = fold(self.acc ^ i, self.k1);
    }

    fn write_u128(&mut self, i: u128) {
        self.write_u64(i as u64);
        self.write_u64((i >> 64) as u64);
    }

    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }

    fn finish(&self) -> u64 {
        fold(self.acc, self.k1 ^ 0x2d35_8dcc_aa6c_78a5).rotate_left(23)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_and_deterministic() {
        let a = KeyedState::new(1);
        let b = KeyedState::new(2);
        assert_eq!(a.hash3(1, 2, 3), KeyedState::new(1).hash3(1, 2, 3));
        assert_ne!(a.hash3(1, 2, 3), b.hash3(1, 2, 3));
        assert_ne!(a.hash3(1, 2, 3), a.hash3(1, 2, 4));
        // Low bits spread: 4096 consecutive keys fill most of 4096 buckets.
        let mut seen = vec![false; 4096];
        for i in 0..4096u64 {
            seen[(a.hash3(i, 0, 0) % 4096) as usize] = true;
        }
        assert!(seen.iter().filter(|s| **s).count() > 2400);
    }
}
