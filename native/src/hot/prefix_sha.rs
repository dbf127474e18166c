//! SHA-256 of `fixed prefix ‖ short variable tail`, the shape of every PoW and plot-counter hash:
//! the complete 64-byte blocks of the prefix are compressed once (midstate) and the padded tail
//! template is reused, so each hash costs only the compressions of its last block(s).

use sha2::compress256;
use sha2::digest::generic_array::GenericArray;

const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

pub struct PrefixSha256 {
    midstate: [u32; 8],
    /// Padded bytes from the first block the tail touches to the end of the message.
    template: Vec<u8>,
    /// Offset of the variable tail inside `template`.
    tail_at: usize,
    tail_len: usize,
}

impl PrefixSha256 {
    pub fn new(prefix: &[u8], tail_len: usize) -> Self {
        let total = prefix.len() + tail_len;
        let padded_len = (total + 9).div_ceil(64) * 64;
        let mut padded = vec![0u8; padded_len];
        padded[..prefix.len()].copy_from_slice(prefix);
        padded[total] = 0x80;
        padded[padded_len - 8..].copy_from_slice(&((total as u64) * 8).to_be_bytes());
        let constant_blocks = prefix.len() / 64;
        let mut midstate = IV;
        for block in padded[..constant_blocks * 64].chunks_exact(64) {
            compress256(&mut midstate, &[*GenericArray::from_slice(block)]);
        }
        let template = padded[constant_blocks * 64..].to_vec();
        Self { midstate, template, tail_at: prefix.len() - constant_blocks * 64, tail_len }
    }

    /// Raw state words of SHA-256(prefix ‖ tail); `tail` must be `tail_len` bytes.
    pub fn state(&mut self, tail: &[u8]) -> [u32; 8] {
        debug_assert_eq!(tail.len(), self.tail_len);
        self.template[self.tail_at..self.tail_at + self.tail_len].copy_from_slice(tail);
        let mut state = self.midstate;
        for block in self.template.chunks_exact(64) {
            compress256(&mut state, &[*GenericArray::from_slice(block)]);
        }
        state
    }

    pub fn digest(&mut self, tail: &[u8]) -> [u8; 32] {
        state_bytes(&self.state(tail))
    }
}

pub fn state_bytes(state: &[u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn matches_plain_sha256_for_every_prefix_and_tail_length() {
        for prefix_len in 0..140usize {
            for tail_len in [0usize, 1, 8, 12, 63, 64, 65] {
                let prefix: Vec<u8> = (0..prefix_len).map(|i| (i * 7 + 3) as u8).collect();
                let tail: Vec<u8> = (0..tail_len).map(|i| (i * 13 + 1) as u8).collect();
                let mut h = PrefixSha256::new(&prefix, tail_len);
                let want: [u8; 32] = Sha256::digest([prefix.as_slice(), &tail].concat()).into();
                assert_eq!(h.digest(&tail), want, "prefix {prefix_len} tail {tail_len}");
                // Reuse with another tail.
                let tail2: Vec<u8> = tail.iter().map(|b| b ^ 0x5a).collect();
                let want2: [u8; 32] = Sha256::digest([prefix.as_slice(), &tail2].concat()).into();
                assert_eq!(h.digest(&tail2), want2);
            }
        }
    }
}
