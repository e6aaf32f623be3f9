//! Base62 and the CRC32 checksum of generated keys (as GitHub's tokens do):
//! `<prefix>_<30 base62 random><6 base62 CRC32 of the random part>`.

/// Base62 digits, in value order.
pub(super) const BASE62: &[u8; 62] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Random base62 characters in a generated key: 30 × log2(62) ≈ 178.6 bits.
pub(super) const RANDOM_LEN: usize = 30;

/// Base62 characters of the checksum: 62⁶ > 2³², so any CRC32 fits.
pub(super) const CHECKSUM_LEN: usize = 6;

/// The fewest random characters a checked token may have: 27 × log2(62) > 160 bits.
const MIN_RANDOM_LEN: usize = 27;

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib computes it.
pub(super) fn crc32(bytes: &[u8]) -> u32 {
    static TABLE: [u32; 256] = crc32_table();
    let mut crc = !0u32;
    for &byte in bytes {
        crc = TABLE[usize::from((crc as u8) ^ byte)] ^ (crc >> 8);
    }
    !crc
}

const fn crc32_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                0xEDB8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// The checksum of `random`, as six base62 digits (most significant first).
pub(super) fn checksum(random: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut value = u64::from(crc32(random));
    let mut digits = [b'0'; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits
}

/// Whether `token` has the generated form with a correct checksum. Cheap,
/// and needs no lookup: typos and made-up keys fail here.
pub(super) fn is_valid(token: &str) -> bool {
    let Some((prefix, body)) = token.rsplit_once('_') else {
        return false;
    };
    if prefix.is_empty() || body.len() < MIN_RANDOM_LEN + CHECKSUM_LEN {
        return false;
    }
    let body = body.as_bytes();
    if !body.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (random, check) = body.split_at(body.len() - CHECKSUM_LEN);
    checksum(random) == check
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        // The CRC-32 "check" value: CRC of the ASCII digits 1..9.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn checksum_is_six_base62_digits() {
        // Cross-checked with Python: zlib.crc32(b"123456789") in base62.
        assert_eq!(&checksum(b"123456789"), b"3jZRME");
        assert_eq!(&checksum(b""), b"000000");
    }

    #[test]
    fn validates_the_generated_form() {
        let random = "a".repeat(RANDOM_LEN);
        let check = checksum(random.as_bytes());
        let token = format!("sk_{random}{}", std::str::from_utf8(&check).expect("ascii"));
        assert!(is_valid(&token));
        // One changed character anywhere fails.
        let typo = token.replacen('a', "b", 1);
        assert!(!is_valid(&typo));
        assert!(!is_valid(&token[..token.len() - 1]));
        assert!(!is_valid(&token.replace("sk_", "")));
        assert!(!is_valid(&format!("_{random}")));
        assert!(!is_valid("sk_short"));
    }
}
