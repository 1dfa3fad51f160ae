//! The password hashes an htpasswd file may hold — recognised by their prefix, checked for shape
//! when the file is read, and verified (never produced) when a client sends a password.
//!
//! bcrypt and SHA-crypt come from their crates; apr1 (Apache's MD5-crypt) is the short loop
//! below; `{SHA}` / `{SSHA}` are SHA-1 from aws-lc-rs. Every final comparison is constant-time.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use sha_crypt::{PasswordVerifier, ShaCrypt};

/// The hash schemes dockside accepts: what nginx verifies through crypt(3) or by itself, minus
/// DES crypt (13 characters, indistinguishable from a plain-text password, and 8-character
/// passwords) and `{PLAIN}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// `$2y$`, `$2b$`, `$2a$` (htpasswd -B).
    Bcrypt,
    /// `$apr1$` (htpasswd -m, Apache's default) and `$1$` (glibc MD5-crypt, openssl passwd -1).
    Md5Crypt,
    /// `$5$` (htpasswd -2, openssl passwd -5).
    Sha256Crypt,
    /// `$6$` (htpasswd -5, openssl passwd -6).
    Sha512Crypt,
    /// `{SHA}`: base64 of the password's SHA-1 (htpasswd -s).
    Sha1,
    /// `{SSHA}`: base64 of SHA-1(password ‖ salt) ‖ salt (nginx reads it; slappasswd makes it).
    SaltedSha1,
}

/// The scheme of a well-formed hash, or `None` for anything else (plain text included).
pub(crate) fn scheme(hash: &str) -> Option<Scheme> {
    if hash.starts_with("$2") {
        hash.parse::<bcrypt::HashParts>()
            .is_ok()
            .then_some(Scheme::Bcrypt)
    } else if let Some(rest) = hash
        .strip_prefix("$apr1$")
        .or_else(|| hash.strip_prefix("$1$"))
    {
        let (salt, sum) = rest.split_once('$')?;
        (salt.len() <= 8 && is_crypt64(salt) && sum.len() == 22 && is_crypt64(sum))
            .then_some(Scheme::Md5Crypt)
    } else if let Some(rest) = hash.strip_prefix("$5$") {
        sha_crypt_shape(rest, 43).then_some(Scheme::Sha256Crypt)
    } else if let Some(rest) = hash.strip_prefix("$6$") {
        sha_crypt_shape(rest, 86).then_some(Scheme::Sha512Crypt)
    } else if let Some(b64) = hash.strip_prefix("{SHA}") {
        (decode(b64)?.len() == 20).then_some(Scheme::Sha1)
    } else if let Some(b64) = hash.strip_prefix("{SSHA}") {
        (decode(b64)?.len() > 20).then_some(Scheme::SaltedSha1)
    } else {
        None
    }
}

/// Whether `password` is the one `hash` was made from; `false` for a malformed hash.
pub(crate) fn verify(password: &[u8], hash: &str) -> bool {
    match scheme(hash) {
        Some(Scheme::Bcrypt) => bcrypt::verify(password, hash).unwrap_or(false),
        Some(Scheme::Md5Crypt) => verify_md5_crypt(password, hash),
        Some(Scheme::Sha256Crypt | Scheme::Sha512Crypt) => {
            ShaCrypt::default().verify_password(password, hash).is_ok()
        }
        Some(Scheme::Sha1) => decode(&hash[5..]).is_some_and(|want| {
            let got = digest(&SHA1_FOR_LEGACY_USE_ONLY, password);
            verify_slices_are_equal(got.as_ref(), &want).is_ok()
        }),
        Some(Scheme::SaltedSha1) => decode(&hash[6..]).is_some_and(|raw| {
            let (want, salt) = raw.split_at(20);
            let got = digest(&SHA1_FOR_LEGACY_USE_ONLY, &[password, salt].concat());
            verify_slices_are_equal(got.as_ref(), want).is_ok()
        }),
        None => false,
    }
}

/// `[rounds=N$]salt$sum` with a sum of `len` crypt-base64 characters.
fn sha_crypt_shape(rest: &str, len: usize) -> bool {
    let rest = match rest.strip_prefix("rounds=") {
        Some(r) => match r.split_once('$') {
            Some((n, r)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => r,
            _ => return false,
        },
        None => rest,
    };
    rest.split_once('$')
        .is_some_and(|(salt, sum)| salt.len() <= 16 && sum.len() == len && is_crypt64(sum))
}

/// crypt's base64 alphabet: `./0-9A-Za-z`.
fn is_crypt64(s: &str) -> bool {
    s.bytes()
        .all(|b| b == b'.' || b == b'/' || b.is_ascii_alphanumeric())
}

fn decode(b64: &str) -> Option<Vec<u8>> {
    STANDARD.decode(b64).ok()
}

/// `$apr1$salt$sum` / `$1$salt$sum`: recompute the sum and compare.
fn verify_md5_crypt(password: &[u8], hash: &str) -> bool {
    let (magic, rest) = match hash.strip_prefix("$apr1$") {
        Some(rest) => ("$apr1$", rest),
        None => ("$1$", &hash[3..]),
    };
    let Some((salt, sum)) = rest.split_once('$') else {
        return false;
    };
    let got = md5_crypt(password, salt.as_bytes(), magic.as_bytes());
    verify_slices_are_equal(&got, sum.as_bytes()).is_ok()
}

/// Poul-Henning Kamp's MD5-crypt, as Apache's `apr_md5_encode` (and glibc for `$1$`): 1000 rounds
/// of MD5 mixing password, salt and the previous sum; the result in crypt's base64 with its own
/// byte order.
fn md5_crypt(password: &[u8], salt: &[u8], magic: &[u8]) -> [u8; 22] {
    let alternate: [u8; 16] = Md5::new()
        .chain_update(password)
        .chain_update(salt)
        .chain_update(password)
        .finalize()
        .into();
    let mut ctx = Md5::new()
        .chain_update(password)
        .chain_update(magic)
        .chain_update(salt);
    for chunk in password.chunks(16) {
        ctx.update(&alternate[..chunk.len()]);
    }
    let mut bits = password.len();
    while bits > 0 {
        if bits & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&password[..1]);
        }
        bits >>= 1;
    }
    let mut sum: [u8; 16] = ctx.finalize().into();
    for round in 0..1000 {
        let mut ctx = Md5::new();
        if round & 1 == 1 {
            ctx.update(password);
        } else {
            ctx.update(sum);
        }
        if round % 3 != 0 {
            ctx.update(salt);
        }
        if round % 7 != 0 {
            ctx.update(password);
        }
        if round & 1 == 1 {
            ctx.update(sum);
        } else {
            ctx.update(password);
        }
        sum = ctx.finalize().into();
    }
    crypt64_md5(&sum)
}

/// MD5-crypt's output encoding: byte triples in a fixed order, 6 bits per character, low first.
fn crypt64_md5(sum: &[u8; 16]) -> [u8; 22] {
    const ALPHABET: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const TRIPLES: [(usize, usize, usize); 5] =
        [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)];
    let mut out = [0u8; 22];
    let mut put = |at: usize, mut v: u32, n: usize| {
        for slot in &mut out[at..at + n] {
            *slot = ALPHABET[(v & 0x3f) as usize];
            v >>= 6;
        }
    };
    for (k, (a, b, c)) in TRIPLES.iter().enumerate() {
        let v = u32::from(sum[*a]) << 16 | u32::from(sum[*b]) << 8 | u32::from(sum[*c]);
        put(k * 4, v, 4);
    }
    put(20, u32::from(sum[11]), 2);
    out
}

#[cfg(test)]
#[path = "hash_tests.rs"]
mod tests;
