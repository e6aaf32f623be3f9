//! The fields of draft-ietf-httpapi-ratelimit-headers-10: `RateLimit-Policy`
//! (`"default";q=100;w=60`: the quota) and `RateLimit`
//! (`"default";r=42;t=1`: requests left, and seconds until more quota is
//! available), as Structured Field lists of one item.

use http::{HeaderName, HeaderValue};

use super::Quota;
use super::gcra::Decision;

/// `RateLimit-Policy`.
pub(crate) static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`.
pub(crate) static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Which quota applied: the key's own, or the layer's default. Its name is
/// the policy item's name in both fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    /// The key's own quota (from its record).
    Key,
    /// The layer's default quota.
    Default,
}

impl Policy {
    const fn name(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Default => "default",
        }
    }
}

/// `"default";q=100;w=60`.
pub(crate) fn policy_value(policy: Policy, quota: Quota) -> HeaderValue {
    let mut out = Buffer::new();
    out.push(b'"');
    out.extend_from_slice(policy.name().as_bytes());
    out.extend_from_slice(b"\";q=");
    push_number(&mut out, u64::from(quota.requests()));
    out.extend_from_slice(b";w=");
    push_number(&mut out, u64::from(quota.per_seconds()));
    header_value(&out)
}

/// `"default";r=42;t=1`; `t` in whole seconds, rounded up (the decision's
/// wait is in nanoseconds).
pub(crate) fn state_value(policy: Policy, decision: &Decision) -> HeaderValue {
    let mut out = Buffer::new();
    out.push(b'"');
    out.extend_from_slice(policy.name().as_bytes());
    out.extend_from_slice(b"\";r=");
    push_number(&mut out, u64::from(decision.remaining));
    out.extend_from_slice(b";t=");
    push_number(&mut out, decision.wait.div_ceil(1_000_000_000));
    header_value(&out)
}

/// A field value built on the stack, then copied once into its header
/// value (one allocation).
struct Buffer {
    bytes: [u8; 64],
    len: usize,
}

impl Buffer {
    const fn new() -> Self {
        Self {
            bytes: [0; 64],
            len: 0,
        }
    }

    fn push(&mut self, byte: u8) {
        self.extend_from_slice(&[byte]);
    }

    fn extend_from_slice(&mut self, more: &[u8]) {
        // At most 9 + 2 x 20 digits + 8 punctuation: never past 64.
        let end = (self.len + more.len()).min(self.bytes.len());
        self.bytes[self.len..end].copy_from_slice(&more[..end - self.len]);
        self.len = end;
    }
}

fn push_number(out: &mut Buffer, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

fn header_value(out: &Buffer) -> HeaderValue {
    // ASCII digits, quotes, letters, `;` and `=` only: always valid.
    HeaderValue::from_bytes(&out.bytes[..out.len]).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_as_the_draft_writes_them() {
        let quota = Quota::new(100, 60).expect("valid");
        assert_eq!(
            policy_value(Policy::Default, quota),
            "\"default\";q=100;w=60"
        );
        assert_eq!(policy_value(Policy::Key, quota), "\"key\";q=100;w=60");
        let decision = Decision {
            allowed: false,
            remaining: 0,
            wait: 11_200_000_000,
        };
        assert_eq!(
            state_value(Policy::Default, &decision),
            "\"default\";r=0;t=12"
        );
        let decision = Decision {
            allowed: true,
            remaining: 42,
            wait: 600_000_000,
        };
        assert_eq!(state_value(Policy::Key, &decision), "\"key\";r=42;t=1");
        let mut out = Buffer::new();
        push_number(&mut out, 0);
        push_number(&mut out, u64::MAX);
        assert_eq!(&out.bytes[..out.len], b"018446744073709551615");
    }
}
