//! The verified-credentials cache that makes basic auth cost a hash and a lookup per request.

use std::sync::{PoisonError, RwLock};

use aws_lc_rs::digest::{Context, SHA256};

/// Independent locks; a hit takes one read lock.
const SHARDS: usize = 16;
/// Sets per shard × slots per set: 16 × 16 × 4 = 1024 credentials.
const SETS: usize = 16;
const WAYS: usize = 4;

/// A tag: SHA-256 of this cache's random key block followed by a raw `Authorization` value.
pub(super) type Tag = [u8; 32];

/// Credentials already verified, so bcrypt (50–250 ms) runs once per credential, not per request.
///
/// How: the key is SHA-256 over a random 64-byte block drawn when the cache is made, then the raw
/// `Authorization` header value; the cache holds only these 32-byte tags, never a user name or a
/// password, and a tag cannot be computed, nor a password tried against it, without the block,
/// which never leaves the process. Only successful verifications are inserted. The key block is
/// hashed once, when the cache is made, and that SHA-256 state is copied per lookup, so a lookup
/// costs one SHA-256 block for a header up to 55 bytes (two beyond): half an HMAC, which would
/// hash two more blocks to guard against length extension — a danger only for tags an attacker
/// gets to see, and these never leave the process. Then one read lock of a shard picked by the
/// tag's first byte, and a comparison with the 4 slots of the set its second byte picks: no
/// allocation. The table is allocated once
/// (1024 tags, 32 KiB); a new tag takes an empty slot of its set, else a slot chosen by the tag
/// itself (the tags are uniformly random, so this is random replacement, and an attacker cannot
/// aim at a slot without the key). Tag comparisons need not be constant-time: without the key,
/// timing tells nothing about which password makes which tag.
pub(super) struct CredentialCache {
    /// SHA-256 state after the random key block.
    keyed: Context,
    shards: Box<[RwLock<[Option<Tag>; SETS * WAYS]>]>,
}

impl CredentialCache {
    pub(super) fn new() -> CredentialCache {
        let mut secret = [0u8; 64];
        if aws_lc_rs::rand::fill(&mut secret).is_err() {
            // Not seen in practice; fastrand is seeded from the OS and per-thread state.
            secret.iter_mut().for_each(|b| *b = fastrand::u8(..));
        }
        let mut keyed = Context::new(&SHA256);
        keyed.update(&secret);
        CredentialCache {
            keyed,
            shards: (0..SHARDS)
                .map(|_| RwLock::new([None; SETS * WAYS]))
                .collect(),
        }
    }

    /// The tag of a raw `Authorization` value.
    pub(super) fn tag(&self, authorization: &[u8]) -> Tag {
        let mut ctx = self.keyed.clone();
        ctx.update(authorization);
        let mut tag = [0u8; 32];
        tag.copy_from_slice(ctx.finish().as_ref());
        tag
    }

    pub(super) fn contains(&self, tag: &Tag) -> bool {
        let shard = self.shards[shard_of(tag)]
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        shard[set_of(tag)]
            .iter()
            .any(|slot| slot.as_ref() == Some(tag))
    }

    pub(super) fn insert(&self, tag: Tag) {
        let mut shard = self.shards[shard_of(&tag)]
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let set = &mut shard[set_of(&tag)];
        if set.contains(&Some(tag)) {
            return;
        }
        let slot = set
            .iter()
            .position(Option::is_none)
            .unwrap_or(usize::from(tag[2]) % WAYS);
        set[slot] = Some(tag);
    }

    /// Tags held (for tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap().iter().flatten().count())
            .sum()
    }

    /// How many tags the cache holds at most.
    #[cfg(test)]
    pub(super) const CAPACITY: usize = SHARDS * SETS * WAYS;
}

fn shard_of(tag: &Tag) -> usize {
    usize::from(tag[0]) % SHARDS
}

/// The slots of the tag's set within its shard.
fn set_of(tag: &Tag) -> std::ops::Range<usize> {
    let first = usize::from(tag[1]) % SETS * WAYS;
    first..first + WAYS
}
