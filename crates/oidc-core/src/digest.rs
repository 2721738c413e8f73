//! SHA-2 through aws-lc, the library that already signs every token: its SHA-256 has AVX2 and
//! SHA-NI paths chosen at run time, where the `sha2` crate falls back to portable code on CPUs
//! without SHA-NI (many Intel servers): there, for the `at_hash` of a 1 KB access token, 5.6 µs
//! against aws-lc's 2.9 µs, and 0.35 against 0.24 µs for a 43-byte refresh token.

use aws_lc_rs::digest::{Context, SHA256, SHA512};

/// The SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(aws_lc_rs::digest::digest(&SHA256, data).as_ref());
    out
}

/// The SHA-256 of the concatenation of `parts`.
pub fn sha256_concat(parts: &[&[u8]]) -> [u8; 32] {
    let mut context = Context::new(&SHA256);
    for part in parts {
        context.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// The SHA-512 of `data`.
pub fn sha512(data: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out.copy_from_slice(aws_lc_rs::digest::digest(&SHA512, data).as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIPS 180-2 test vectors, and a split input hashing as the whole.
    #[test]
    fn known_answers() {
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_concat(&[b"a", b"", b"bc"]), sha256(b"abc"));
        assert_eq!(
            hex::encode(sha512(b"abc")),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
    }
}
