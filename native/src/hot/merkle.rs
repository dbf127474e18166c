//! RFC 6962 §2.1 leaf hashing in batches for libs/ct-log (its `Hasher.hashLeaves`): one call
//! hashes every leaf of a group commit.

use crate::hash::digest_batch;
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

/// RFC 6962 leaf hash prefix.
pub const LEAF_PREFIX: u8 = 0x00;

/// Concatenated 32-byte RFC 6962 leaf hashes SHA-256(0x00 ‖ leaf), in input order.
#[napi]
pub fn merkle_leaf_hashes(leaves: Vec<&[u8]>) -> Buffer {
    Buffer::from(digest_batch(leaves.into_iter(), Some(LEAF_PREFIX)))
}
