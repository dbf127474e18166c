//! PoSpace opening verification for libs/four-proof (`verifyPoSpace`), mirroring its TypeScript
//! reference (src/pospace-openings.ts): opening k passes when its block equals the node's derived
//! plot block `indices[k]` (see plot.rs) and its Merkle path, leaf = SHA-256(0x00 ‖ block),
//! node = SHA-256(0x01 ‖ left ‖ right), siblings from the leaf level up, leads to `root`.
//! One call checks every opening, so the ~15 small hashes per opening cost no JS round trips.

use super::plot::{prefix, MAX_BLOCK_SIZE};
use super::prefix_sha::PrefixSha256;
use crate::error::{Code, StoqError, INVALID_ARGUMENT};
use napi_derive::napi;
use sha2::{Digest, Sha256};

fn invalid(message: String) -> StoqError {
    StoqError::new(INVALID_ARGUMENT, message)
}

/// Index of the first failing opening, or -1 when all pass. Errors only on malformed arguments.
pub fn verify_openings(
    root: &[u8],
    node_id: &[u8],
    block_size: u32,
    leaf_count: u32,
    indices: &[u32],
    blocks: &[u8],
    paths: &[u8],
) -> Result<i32, StoqError> {
    if root.len() != 32 {
        return Err(invalid(format!("root must be 32 bytes, got {}", root.len())));
    }
    if node_id.len() > u16::MAX as usize {
        return Err(invalid(format!("nodeId is {} bytes, at most 65535 allowed", node_id.len())));
    }
    if block_size == 0 || block_size % 32 != 0 || block_size > MAX_BLOCK_SIZE {
        return Err(invalid(format!("blockSize must be a multiple of 32 in [32, 2^20], got {block_size}")));
    }
    if leaf_count < 2 || !leaf_count.is_power_of_two() {
        return Err(invalid(format!("leafCount must be a power of two in [2, 2^31], got {leaf_count}")));
    }
    let depth = leaf_count.trailing_zeros() as usize;
    let n = indices.len();
    if n > i32::MAX as usize || blocks.len() != n * block_size as usize {
        return Err(invalid(format!("blocks must be {} x {block_size} bytes, got {}", n, blocks.len())));
    }
    if paths.len() != n * depth * 32 {
        return Err(invalid(format!("paths must be {} x {depth} x 32 bytes, got {}", n, paths.len())));
    }
    let mut counter = PrefixSha256::new(&prefix(node_id, block_size), 12);
    let mut tail = [0u8; 12];
    let mut node = [0u8; 65];
    node[0] = 0x01;
    for (k, ((&index, block), path)) in
        indices.iter().zip(blocks.chunks_exact(block_size as usize)).zip(paths.chunks_exact(depth * 32)).enumerate()
    {
        tail[..8].copy_from_slice(&(index as u64).to_be_bytes());
        let derived_matches = block.chunks_exact(32).enumerate().all(|(j, chunk)| {
            tail[8..].copy_from_slice(&(j as u32).to_be_bytes());
            counter.digest(&tail) == chunk
        });
        if !derived_matches {
            return Ok(k as i32);
        }
        let mut hash: [u8; 32] = Sha256::new().chain_update([0u8]).chain_update(block).finalize().into();
        let mut i = index;
        for sibling in path.chunks_exact(32) {
            let (left, right) = if i & 1 == 0 { (&hash[..], sibling) } else { (sibling, &hash[..]) };
            node[1..33].copy_from_slice(left);
            node[33..].copy_from_slice(right);
            hash = Sha256::digest(node).into();
            i >>= 1;
        }
        if hash != root {
            return Ok(k as i32);
        }
    }
    Ok(-1)
}

/// Checks PoSpace openings k = 0..indices.length: `blocks` is their blocks concatenated
/// (blockSize bytes each), `paths` their Merkle sibling hashes concatenated (log2(leafCount) x 32
/// bytes each, leaf level first). Returns the first failing k, or -1 when every block is the
/// node's derived block `indices[k]` and its path leads to `root`. Byte-identical to
/// @stoq/four-proof's `pospaceVerifyOpenings` reference. Throws on malformed arguments: root not
/// 32 bytes, nodeId above 65535 bytes, blockSize not a multiple of 32 in [32, 2^20], leafCount
/// not a power of two >= 2, or buffer lengths that do not match.
#[napi]
pub fn pospace_verify_openings(
    root: &[u8],
    node_id: &[u8],
    block_size: u32,
    leaf_count: u32,
    indices: Vec<u32>,
    blocks: &[u8],
    paths: &[u8],
) -> napi::Result<i32, Code> {
    Ok(verify_openings(root, node_id, block_size, leaf_count, &indices, blocks, paths)?)
}

#[cfg(test)]
mod tests {
    use super::super::plot::generate;
    use super::*;

    fn derive(node_id: &[u8], index: u32, block_size: u32) -> Vec<u8> {
        let pre = prefix(node_id, block_size);
        (0..block_size / 32)
            .flat_map(|j| Sha256::digest([pre.as_slice(), &(index as u64).to_be_bytes(), &j.to_be_bytes()].concat()).to_vec())
            .collect()
    }

    /// Root and per-leaf sibling paths of the plot's Merkle tree, built level by level.
    fn tree(leaves: &[u8]) -> (Vec<u8>, Vec<Vec<Vec<u8>>>) {
        let mut levels = vec![leaves.to_vec()];
        while levels.last().unwrap().len() > 32 {
            let next = levels.last().unwrap().chunks_exact(64).flat_map(|pair| Sha256::digest([&[1u8][..], pair].concat()).to_vec()).collect();
            levels.push(next);
        }
        let count = leaves.len() / 32;
        let paths = (0..count)
            .map(|leaf| (0..levels.len() - 1).map(|h| levels[h][((leaf >> h) ^ 1) * 32..][..32].to_vec()).collect())
            .collect();
        (levels.last().unwrap().clone(), paths)
    }

    #[test]
    fn accepts_honest_openings_and_names_the_first_bad_one() {
        let (node_id, count, size) = (b"node-7", 16u32, 64u32);
        let (root, all_paths) = tree(&generate(node_id, count, size).unwrap());
        let indices = [3u32, 0, 15, 3, 8];
        let blocks: Vec<u8> = indices.iter().flat_map(|&i| derive(node_id, i, size)).collect();
        let paths: Vec<u8> = indices.iter().flat_map(|&i| all_paths[i as usize].concat()).collect();
        assert_eq!(verify_openings(&root, node_id, size, count, &indices, &blocks, &paths).unwrap(), -1);
        assert_eq!(verify_openings(&root, node_id, size, count, &[], &[], &[]).unwrap(), -1);
        for byte in [0, blocks.len() - 1, 2 * size as usize + 5] {
            let mut bad = blocks.clone();
            bad[byte] ^= 1;
            assert_eq!(verify_openings(&root, node_id, size, count, &indices, &bad, &paths).unwrap(), (byte / size as usize) as i32);
        }
        for byte in [0, paths.len() - 1, 4 * 32 * 3 + 7] {
            let mut bad = paths.clone();
            bad[byte] ^= 0x80;
            assert_eq!(verify_openings(&root, node_id, size, count, &indices, &blocks, &bad).unwrap(), (byte / (4 * 32)) as i32);
        }
        let mut bad_root = root.clone();
        bad_root[31] ^= 1;
        assert_eq!(verify_openings(&bad_root, node_id, size, count, &indices, &blocks, &paths).unwrap(), 0);
        let mut swapped = indices;
        swapped[1] = 1;
        assert_eq!(verify_openings(&root, node_id, size, count, &swapped, &blocks, &paths).unwrap(), 1);
    }

    #[test]
    fn rejects_malformed_arguments() {
        let root = [0u8; 32];
        assert!(verify_openings(&root[..31], b"n", 64, 4, &[], &[], &[]).is_err());
        assert!(verify_openings(&root, b"n", 48, 4, &[], &[], &[]).is_err());
        assert!(verify_openings(&root, b"n", 64, 6, &[], &[], &[]).is_err());
        assert!(verify_openings(&root, b"n", 64, 1, &[], &[], &[]).is_err());
        assert!(verify_openings(&root, b"n", 64, 4, &[0], &[0; 63], &[0; 64]).unwrap_err().message.contains("blocks"));
        assert!(verify_openings(&root, b"n", 64, 4, &[0], &[0; 64], &[0; 32]).unwrap_err().message.contains("paths"));
        assert!(verify_openings(&root, &vec![0u8; 70000], 64, 4, &[], &[], &[]).is_err());
    }
}
