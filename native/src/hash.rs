//! SHA-256 hot paths: single digest and batched digests (RFC 6962 leaf hashes, packet tokens).

use crate::error::{Code, StoqError, INVALID_ARGUMENT};
use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi::{Env, Task};
use napi_derive::napi;
use sha2::{Digest, Sha256};

/// Batches at or above this many input bytes are worth hashing off the JS thread.
pub const DIGEST_LEN: usize = 32;

pub fn digest(data: &[u8]) -> [u8; DIGEST_LEN] {
    Sha256::digest(data).into()
}

/// Concatenated SHA-256 digests of `prefix? ‖ item` for each item, in order.
pub fn digest_batch<'a>(items: impl ExactSizeIterator<Item = &'a [u8]>, prefix: Option<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.len() * DIGEST_LEN);
    for item in items {
        let mut h = Sha256::new();
        if let Some(p) = prefix {
            h.update([p]);
        }
        h.update(item);
        out.extend_from_slice(&h.finalize());
    }
    out
}

pub fn parse_prefix(prefix: Option<u32>) -> Result<Option<u8>, StoqError> {
    match prefix {
        None => Ok(None),
        Some(p) if p <= 0xff => Ok(Some(p as u8)),
        Some(p) => Err(StoqError::new(
            INVALID_ARGUMENT,
            format!("prefix {p} is not a byte value (0..=255)"),
        )),
    }
}

/// SHA-256 of `data` (32 bytes).
#[napi]
pub fn sha256(data: &[u8]) -> Buffer {
    Buffer::from(digest(data).to_vec())
}

/// Concatenated 32-byte SHA-256 digests of `(prefix byte ‖ item)` for each item.
/// `prefix` (0..=255) is optional: RFC 6962 leaf hashes use 0x00.
#[napi]
pub fn sha256_batch(items: Vec<&[u8]>, prefix: Option<u32>) -> napi::Result<Buffer, Code> {
    let prefix = parse_prefix(prefix)?;
    Ok(Buffer::from(digest_batch(items.into_iter(), prefix)))
}

/// Input copied into one contiguous buffer so the hashing can run on the libuv thread pool.
pub struct Sha256BatchTask {
    data: Vec<u8>,
    ends: Vec<usize>,
    prefix: Option<u8>,
}

impl Task for Sha256BatchTask {
    type Output = Vec<u8>;
    type JsValue = Buffer;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let data = &self.data;
        let mut start = 0;
        let slices = self.ends.iter().map(|&end| {
            let s = &data[start..end];
            start = end;
            s
        });
        Ok(digest_batch(slices, self.prefix))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        Ok(Buffer::from(output))
    }
}

/// Same result as `sha256Batch`, computed off the JS thread.
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn sha256_batch_async(items: Vec<&[u8]>, prefix: Option<u32>) -> napi::Result<AsyncTask<Sha256BatchTask>, Code> {
    let prefix = parse_prefix(prefix)?;
    let total: usize = items.iter().map(|i| i.len()).sum();
    let mut data = Vec::with_capacity(total);
    let mut ends = Vec::with_capacity(items.len());
    for item in &items {
        data.extend_from_slice(item);
        ends.push(data.len());
    }
    Ok(AsyncTask::new(Sha256BatchTask { data, ends, prefix }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_matches_per_item_digests() {
        let items: Vec<Vec<u8>> = (0..50).map(|i| vec![i as u8; i * 7]).collect();
        for prefix in [None, Some(0u8), Some(0xff)] {
            let out = digest_batch(items.iter().map(|v| v.as_slice()), prefix);
            assert_eq!(out.len(), items.len() * DIGEST_LEN);
            for (i, item) in items.iter().enumerate() {
                let mut input = Vec::new();
                input.extend(prefix);
                input.extend_from_slice(item);
                let expected: [u8; 32] = Sha256::digest(&input).into();
                assert_eq!(&out[i * 32..(i + 1) * 32], &expected, "item {i} prefix {prefix:?}");
            }
        }
    }

    #[test]
    fn known_vector_and_empty_batch() {
        // SHA-256("abc") from FIPS 180-2.
        let d = digest(b"abc");
        assert_eq!(d[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert!(digest_batch(std::iter::empty::<&[u8]>(), Some(0)).is_empty());
        // RFC 6962 empty-leaf hash: SHA-256(0x00).
        let leaf = digest_batch([&b""[..]].into_iter(), Some(0));
        assert_eq!(leaf, digest(&[0]).to_vec());
    }

    #[test]
    fn prefix_must_be_a_byte() {
        assert_eq!(parse_prefix(Some(255)).unwrap(), Some(255));
        assert_eq!(parse_prefix(Some(256)).unwrap_err().code, INVALID_ARGUMENT);
    }
}
