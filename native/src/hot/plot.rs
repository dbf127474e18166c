//! Plot generation, mirroring libs/four-proof/src/plot-generate.ts: block i of node n is
//!   ‖_{j < blockSize/32} SHA-256(tag ‖ u16be(len n) ‖ n ‖ u32be(blockSize) ‖ u64be(i) ‖ u32be(j))
//! and the output is the concatenation of the Merkle leaf hashes SHA-256(0x00 ‖ block_i).
//! Large plots are split across threads (blocks are independent; output order is fixed).

use super::prefix_sha::PrefixSha256;
use crate::error::{coded_rejection, Code, StoqError, INVALID_ARGUMENT};
use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi::{Env, Task};
use napi_derive::napi;
use sha2::{Digest, Sha256};

/// DOMAIN.plotBlock in libs/four-proof/src/hash.ts (changing it changes the proof format).
pub const PLOT_BLOCK_TAG: &[u8] = b"stoq/four-proof/v1/plot-block\0";
pub const MAX_BLOCK_SIZE: u32 = 1 << 20;
/// 2^26 blocks → a 2 GiB leaf-hash buffer.
pub const MAX_BLOCKS: u32 = 1 << 26;
/// Below this many bytes of blocks, one thread (thread start-up would dominate).
const PARALLEL_THRESHOLD: u64 = 8 << 20;

fn check(node_id: &[u8], block_count: u32, block_size: u32) -> Result<(), StoqError> {
    if node_id.len() > u16::MAX as usize {
        return Err(StoqError::new(INVALID_ARGUMENT, format!("nodeId is {} bytes, at most 65535 allowed", node_id.len())));
    }
    if block_count == 0 || block_count > MAX_BLOCKS {
        return Err(StoqError::new(INVALID_ARGUMENT, format!("blockCount must be in [1, 2^26], got {block_count}")));
    }
    if block_size == 0 || block_size % 32 != 0 || block_size > MAX_BLOCK_SIZE {
        return Err(StoqError::new(INVALID_ARGUMENT, format!("blockSize must be a multiple of 32 in [32, 2^20], got {block_size}")));
    }
    Ok(())
}

pub(crate) fn prefix(node_id: &[u8], block_size: u32) -> Vec<u8> {
    [PLOT_BLOCK_TAG, &(node_id.len() as u16).to_be_bytes(), node_id, &block_size.to_be_bytes()].concat()
}

/// Leaf hashes of blocks [first, first + out.len()/32) into `out`.
fn generate_range(prefix: &[u8], block_size: u32, first: u64, out: &mut [u8]) {
    let mut counter = PrefixSha256::new(prefix, 12);
    let mut tail = [0u8; 12];
    for (k, leaf_out) in out.chunks_exact_mut(32).enumerate() {
        tail[..8].copy_from_slice(&(first + k as u64).to_be_bytes());
        let mut leaf = Sha256::new();
        leaf.update([0u8]);
        for j in 0..block_size / 32 {
            tail[8..].copy_from_slice(&j.to_be_bytes());
            leaf.update(counter.digest(&tail));
        }
        leaf_out.copy_from_slice(&leaf.finalize());
    }
}

pub fn generate(node_id: &[u8], block_count: u32, block_size: u32) -> Result<Vec<u8>, StoqError> {
    check(node_id, block_count, block_size)?;
    let prefix = prefix(node_id, block_size);
    let mut out = vec![0u8; block_count as usize * 32];
    let threads = if block_count as u64 * block_size as u64 >= PARALLEL_THRESHOLD {
        std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
    } else {
        1
    };
    let per_thread = (block_count as usize).div_ceil(threads) * 32;
    std::thread::scope(|s| {
        for (k, chunk) in out.chunks_mut(per_thread).enumerate() {
            let prefix = &prefix;
            let first = (k * per_thread / 32) as u64;
            if threads == 1 {
                generate_range(prefix, block_size, first, chunk);
            } else {
                s.spawn(move || generate_range(prefix, block_size, first, chunk));
            }
        }
    });
    Ok(out)
}

/// Concatenated 32-byte leaf hashes SHA-256(0x00 ‖ block_i) of the node's plot, i in [0, blockCount):
/// byte-identical to @stoq/four-proof's `plotGenerate`. blockCount in [1, 2^26]; blockSize a
/// multiple of 32 in [32, 2^20]; nodeId at most 65535 bytes.
#[napi]
pub fn plot_generate(node_id: &[u8], block_count: u32, block_size: u32) -> napi::Result<Buffer, Code> {
    Ok(Buffer::from(generate(node_id, block_count, block_size)?))
}

pub struct PlotTask {
    node_id: Vec<u8>,
    block_count: u32,
    block_size: u32,
}

impl Task for PlotTask {
    type Output = Result<Vec<u8>, StoqError>;
    type JsValue = Buffer;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(generate(&self.node_id, self.block_count, self.block_size))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        let output = output.map_err(|e| coded_rejection(&env, e))?;
        Ok(Buffer::from(output))
    }
}

/// `plotGenerate` on the libuv thread pool.
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn plot_generate_async(node_id: &[u8], block_count: u32, block_size: u32) -> napi::Result<AsyncTask<PlotTask>, Code> {
    check(node_id, block_count, block_size)?;
    Ok(AsyncTask::new(PlotTask { node_id: node_id.to_vec(), block_count, block_size }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_leaf(node_id: &[u8], i: u64, block_size: u32) -> [u8; 32] {
        let mut block = Vec::new();
        for j in 0..block_size / 32 {
            let pre = [prefix(node_id, block_size).as_slice(), &i.to_be_bytes(), &j.to_be_bytes()].concat();
            block.extend_from_slice(&Sha256::digest(&pre));
        }
        Sha256::digest([&[0u8][..], &block].concat()).into()
    }

    #[test]
    fn matches_the_definition_single_and_multi_threaded() {
        for (node_id, count, size) in [(&b"n"[..], 5u32, 64u32), (&[7u8; 64][..], 3, 32), (&[9u8; 20][..], 130, 65536 + 32)] {
            let out = generate(node_id, count, size).unwrap();
            assert_eq!(out.len(), count as usize * 32);
            for i in [0, count - 1, count / 2] {
                assert_eq!(&out[i as usize * 32..][..32], &naive_leaf(node_id, i as u64, size), "block {i} of {count}x{size}");
            }
        }
    }

    #[test]
    fn rejects_bad_sizes() {
        assert!(generate(b"n", 0, 64).is_err());
        assert!(generate(b"n", 4, 48).unwrap_err().message.contains("multiple of 32"));
        assert!(generate(b"n", MAX_BLOCKS + 1, 64).is_err());
        assert!(generate(&vec![0u8; 70000], 4, 64).unwrap_err().message.contains("nodeId"));
    }
}
