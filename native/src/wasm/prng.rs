//! The deterministic random source behind WASI `random_get`: SHA-256 in counter mode over the
//! request's 32-byte seed. The same seed gives the same bytes on every machine, so a run (and its
//! receipt's output hash) can be reproduced; it is not a secret source and is not meant to be.

use sha2::{Digest, Sha256};

pub struct SeededRandom {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl SeededRandom {
    pub fn new(seed: [u8; 32]) -> Self {
        Self { seed, counter: 0, block: [0; 32], used: 32 }
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        for b in out.iter_mut() {
            if self.used == 32 {
                let mut h = Sha256::new();
                h.update(b"catalog random v1\0");
                h.update(self.seed);
                h.update(self.counter.to_be_bytes());
                self.block = h.finalize().into();
                self.counter += 1;
                self.used = 0;
            }
            *b = self.block[self.used];
            self.used += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_in_any_chunking() {
        let mut a = SeededRandom::new([7; 32]);
        let mut whole = [0u8; 100];
        a.fill(&mut whole);
        let mut b = SeededRandom::new([7; 32]);
        let mut parts = [0u8; 100];
        let (x, y) = parts.split_at_mut(33);
        b.fill(x);
        b.fill(y);
        assert_eq!(whole, parts);
        let mut c = SeededRandom::new([8; 32]);
        let mut other = [0u8; 100];
        c.fill(&mut other);
        assert_ne!(whole, other);
    }
}
