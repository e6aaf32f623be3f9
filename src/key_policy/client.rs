//! Where a request comes from: the connection's address, or, through
//! proxies the application trusts, the address they forwarded
//! (`Forwarded`, RFC 7239, else `X-Forwarded-For`).

use std::net::{IpAddr, SocketAddr};

use http::header::FORWARDED;
use http::request::Parts;
use http::{HeaderMap, HeaderName};

use super::AddressRange;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The address of the connection a request came in on, in the request's
/// extensions: the server inserts it per connection (the demo server's
/// accept loop does; with axum's `ConnectInfo<SocketAddr>`, a
/// `map_request` outside the layer copies it here). Without it the client
/// is unknown, and keys with an allowlist are refused.
///
/// ```
/// use std::net::SocketAddr;
/// use tower_bearer_auth::key_policy::PeerAddress;
///
/// let mut request = http::Request::new(());
/// let peer: SocketAddr = "203.0.113.7:50312".parse()?;
/// request.extensions_mut().insert(PeerAddress(peer));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddress(pub SocketAddr);

/// The proxies whose forwarding headers are believed. Empty by default:
/// the client is the connection's peer and `Forwarded` /
/// `X-Forwarded-For` are ignored (anyone can send them).
///
/// With proxies listed, the client is found by walking the forwarded
/// addresses from the right (the hop nearest to us) while each hop is a
/// trusted proxy; the first untrusted hop is the client. A hop that is not
/// an address (`unknown`, an obfuscated name) or a trusted peer that
/// forwarded nothing makes the client unknown.
///
/// ```
/// use tower_bearer_auth::key_policy::TrustedProxies;
///
/// let proxies = TrustedProxies::new(["10.0.0.0/8".parse()?]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Box<[AddressRange]>);

impl TrustedProxies {
    /// These proxies.
    #[must_use]
    pub fn new(ranges: impl IntoIterator<Item = AddressRange>) -> Self {
        Self(ranges.into_iter().collect())
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(address))
    }

    /// The client's address for `parts`, or `None` when it is unknown.
    pub(crate) fn client(&self, parts: &Parts) -> Option<IpAddr> {
        let peer = peer(parts)?.to_canonical();
        if !self.trusts(peer) {
            return Some(peer);
        }
        let mut client = None;
        let mut untrusted = false;
        for_each_hop_from_the_right(&parts.headers, &mut |hop| {
            if untrusted {
                return;
            }
            match hop {
                Some(address) => {
                    let address = address.to_canonical();
                    client = Some(address);
                    untrusted = !self.trusts(address);
                }
                None => {
                    client = None;
                    untrusted = true;
                }
            }
        });
        client
    }
}

/// The connection's address, from the extensions.
fn peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<PeerAddress>()
        .map(|PeerAddress(address)| address.ip())
}

/// Calls `visit` with each forwarded hop, nearest first: the `for=` of
/// every `Forwarded` element when the request has that field, otherwise
/// every `X-Forwarded-For` entry. `None`: a hop that is not an address.
fn for_each_hop_from_the_right(headers: &HeaderMap, visit: &mut dyn FnMut(Option<IpAddr>)) {
    if headers.contains_key(FORWARDED) {
        for value in headers.get_all(FORWARDED).iter().rev() {
            let Ok(value) = value.to_str() else {
                return visit(None);
            };
            for element in value.rsplit(',') {
                let node = element.split(';').find_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    name.eq_ignore_ascii_case("for").then_some(value)
                });
                visit(node.and_then(node_address));
            }
        }
        return;
    }
    for value in headers.get_all(&X_FORWARDED_FOR).iter().rev() {
        let Ok(value) = value.to_str() else {
            return visit(None);
        };
        for entry in value.rsplit(',') {
            visit(node_address(entry.trim()));
        }
    }
}

/// An address from a forwarded node: `192.0.2.1`, `192.0.2.1:80`,
/// `2001:db8::1`, `[2001:db8::1]:4711`, quoted or not.
fn node_address(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    let node = node
        .strip_prefix('"')
        .and_then(|node| node.strip_suffix('"'))
        .unwrap_or(node);
    if let Ok(address) = node.parse::<IpAddr>() {
        return Some(address);
    }
    node.parse::<SocketAddr>().ok().map(|address| address.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(peer: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder();
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        parts.extensions.insert(PeerAddress(peer.parse().unwrap()));
        parts
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    fn proxies() -> TrustedProxies {
        TrustedProxies::new([
            "10.0.0.0/8".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ])
    }

    #[test]
    fn without_trusted_proxies_forwarding_headers_are_ignored() {
        let parts = request(
            "198.51.100.7:1234",
            &[
                ("x-forwarded-for", "203.0.113.9"),
                ("forwarded", "for=203.0.113.9"),
            ],
        );
        assert_eq!(TrustedProxies::default().client(&parts), ip("198.51.100.7"));
        assert_eq!(proxies().client(&parts), ip("198.51.100.7"));
    }

    #[test]
    fn through_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Option<IpAddr>);
        let cases: [Case<'_>; 9] = [
            (
                "10.0.0.1:1",
                &[("x-forwarded-for", "203.0.113.9")],
                ip("203.0.113.9"),
            ),
            // The client's own header is spoofable: only the hop a trusted
            // proxy appended counts.
            (
                "10.0.0.1:1",
                &[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.2")],
                ip("203.0.113.9"),
            ),
            (
                "10.0.0.1:1",
                &[
                    ("x-forwarded-for", "1.1.1.1"),
                    ("x-forwarded-for", "203.0.113.9"),
                ],
                ip("203.0.113.9"),
            ),
            ("10.0.0.1:1", &[], None),
            ("10.0.0.1:1", &[("x-forwarded-for", "unknown")], None),
            (
                "10.0.0.1:1",
                &[("x-forwarded-for", "10.0.0.3, 10.0.0.2")],
                ip("10.0.0.3"),
            ),
            (
                "10.0.0.1:1",
                &[(
                    "forwarded",
                    "for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::17]:4711\"",
                )],
                ip("192.0.2.60"),
            ),
            (
                "[2001:db8::5]:1",
                &[
                    ("forwarded", "For=\"198.51.100.4:80\""),
                    ("x-forwarded-for", "1.1.1.1"),
                ],
                ip("198.51.100.4"),
            ),
            ("10.0.0.1:1", &[("forwarded", "for=_hidden")], None),
        ];
        for (peer, headers, expected) in cases {
            assert_eq!(
                proxies().client(&request(peer, headers)),
                expected,
                "{headers:?}"
            );
        }
    }

    #[test]
    fn a_request_without_a_peer_address_has_no_client() {
        let (parts, ()) = http::Request::new(()).into_parts();
        assert_eq!(TrustedProxies::default().client(&parts), None);
    }
}
