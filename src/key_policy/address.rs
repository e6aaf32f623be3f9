//! Address ranges (`203.0.113.0/24`, `2001:db8::/32`, or one address):
//! what a key's allowlist and the trusted proxies are made of.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A range of IP addresses in CIDR notation, or a single address.
///
/// The address must be the range's first (no bits set after the prefix):
/// `10.0.0.1/8` is refused rather than read as `10.0.0.0/8`, so that a
/// typo never widens or moves a range silently. An IPv4-mapped IPv6 client
/// address (`::ffff:203.0.113.7`) is compared as the IPv4 address it is.
///
/// ```
/// use tower_bearer_auth::key_policy::AddressRange;
///
/// let office: AddressRange = "203.0.113.0/24".parse()?;
/// assert!(office.contains("203.0.113.7".parse()?));
/// assert!(!office.contains("198.51.100.1".parse()?));
/// assert!(office.contains("::ffff:203.0.113.7".parse()?));
/// assert_eq!(office.to_string(), "203.0.113.0/24");
/// assert!("10.0.0.1/8".parse::<AddressRange>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressRange {
    network: IpAddr,
    prefix: u8,
}

impl AddressRange {
    /// The range of one address.
    #[must_use]
    pub fn single(address: IpAddr) -> Self {
        let address = address.to_canonical();
        Self {
            network: address,
            prefix: max_prefix(address),
        }
    }

    /// Whether `address` is in the range.
    #[must_use]
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                masked(u128::from(address.to_bits()), 32, self.prefix)
                    == u128::from(network.to_bits())
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                masked(address.to_bits(), 128, self.prefix) == network.to_bits()
            }
            _ => false,
        }
    }
}

/// `bits` (of `width` bits) with everything after `prefix` cleared.
fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
    let cleared = width - prefix;
    if cleared >= 128 {
        0
    } else {
        bits >> cleared << cleared
    }
}

const fn max_prefix(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// Why a text is not an address range; names the rule, never the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAddressRange(&'static str);

impl fmt::Display for InvalidAddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for InvalidAddressRange {}

impl FromStr for AddressRange {
    type Err = InvalidAddressRange;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| {
            InvalidAddressRange(
                "an address range must be an IPv4 or IPv6 address, optionally /PREFIX",
            )
        })?;
        if address.to_canonical() != address {
            return Err(InvalidAddressRange(
                "an address range must not be an IPv4-mapped IPv6 address (write the IPv4 address)",
            ));
        }
        let max = max_prefix(address);
        let Some(prefix) = prefix else {
            return Ok(Self::single(address));
        };
        let prefix =
            (!prefix.is_empty() && prefix.len() <= 3 && prefix.bytes().all(|b| b.is_ascii_digit()))
                .then(|| prefix.parse::<u8>().ok())
                .flatten()
                .filter(|prefix| *prefix <= max)
                .ok_or(InvalidAddressRange(
                    "an address range's prefix must be 0 to 32 (IPv4) or 0 to 128 (IPv6)",
                ))?;
        let range = Self {
            network: address,
            prefix,
        };
        if masked_network(range) != address {
            return Err(InvalidAddressRange(
                "an address range must start at its first address (no bits set after the prefix)",
            ));
        }
        Ok(range)
    }
}

/// The first address of `range`'s network.
fn masked_network(range: AddressRange) -> IpAddr {
    match range.network {
        IpAddr::V4(network) => {
            let bits = masked(u128::from(network.to_bits()), 32, range.prefix);
            IpAddr::from(std::net::Ipv4Addr::from_bits(
                u32::try_from(bits).unwrap_or_default(),
            ))
        }
        IpAddr::V6(network) => IpAddr::from(std::net::Ipv6Addr::from_bits(masked(
            network.to_bits(),
            128,
            range.prefix,
        ))),
    }
}

impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix == max_prefix(self.network) {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_contain_their_addresses_and_no_others() {
        let cases = [
            ("203.0.113.0/24", "203.0.113.255", true),
            ("203.0.113.0/24", "203.0.114.0", false),
            ("0.0.0.0/0", "198.51.100.1", true),
            ("0.0.0.0/0", "2001:db8::1", false),
            ("2001:db8::/32", "2001:db8:ffff::1", true),
            ("2001:db8::/32", "2001:db9::", false),
            ("::/0", "::1", true),
            ("192.0.2.1", "192.0.2.1", true),
            ("192.0.2.1", "192.0.2.2", false),
            ("192.0.2.0/24", "::ffff:192.0.2.9", true),
            ("2001:db8::1", "2001:db8::1", true),
        ];
        for (range, address, expected) in cases {
            let parsed: AddressRange = range.parse().unwrap();
            assert_eq!(parsed.contains(ip(address)), expected, "{range} {address}");
            assert_eq!(parsed.to_string(), range);
        }
    }

    #[test]
    fn bad_ranges_are_refused_without_echoing_them() {
        for text in [
            "",
            "203.0.113.0/",
            "203.0.113.0/33",
            "2001:db8::/129",
            "203.0.113.1/24",
            "10.0.0.1/8",
            "203.0.113.0/+8",
            "203.0.113.0/0008",
            "203.0.113.0/24/1",
            "example.com",
            "::ffff:1.2.3.4",
            " 203.0.113.0/24",
        ] {
            let error = text.parse::<AddressRange>().unwrap_err();
            assert!(
                !error.to_string().contains(text) || text.is_empty(),
                "{text}"
            );
        }
    }
}
