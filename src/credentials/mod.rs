//! Finding exactly one bearer token in a request.
//!
//! This folder decides where a token may come from and what a well-formed
//! one is: the `Authorization: Bearer` header (always; the scheme matched
//! case-insensitively), and optionally a custom header, a cookie or the
//! `access_token` query parameter; the RFC 6750 `b64token` grammar; and the
//! length limit. A request must carry exactly one candidate across all the
//! configured sources (RFC 6750 §2: "Clients MUST NOT use more than one
//! method"), or it is refused as ambiguous. It also scrubs what it read:
//! it marks the credential headers sensitive and removes `access_token` from
//! the URI once the request is admitted.

mod authorization;
mod b64token;
mod query;
mod source;

use std::borrow::Cow;

use http::header::AUTHORIZATION;
use http::request::Parts;

use self::authorization::AuthorizationValue;
use crate::rejection::RejectionKind;

#[cfg(fuzzing)]
pub use self::authorization::check_parse;
use self::source::Lookup;
pub(crate) use self::source::TokenSource;

/// The one token a request carries, and where it came from.
#[derive(Debug)]
pub(crate) struct Credential<'a> {
    pub(crate) token: Cow<'a, str>,
    pub(crate) origin: Origin,
}

/// Where a credential came from, and what is left to scrub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Origin {
    /// From the `access_token` query parameter.
    pub(crate) from_query: bool,
    /// Its header is marked sensitive already.
    pub(crate) marked: bool,
    /// When the layer began deciding the request (for its metrics).
    pub(crate) started: crate::observe::Started,
}

/// Tokens up to this long are copied out of the `Authorization` header,
/// so that the header is looked up once (read and marked sensitive).
pub(crate) const COPIED_TOKEN: usize = 64;

/// Where to look and how long a token may be.
#[derive(Debug, Clone)]
pub(crate) struct CredentialRules {
    sources: Box<[TokenSource]>,
    max_token_len: usize,
    /// The default: the `Authorization` header is the only source.
    authorization_only: bool,
}

impl CredentialRules {
    pub(crate) fn new(sources: Vec<TokenSource>, max_token_len: usize) -> Self {
        Self {
            authorization_only: sources == [TokenSource::AuthorizationHeader],
            sources: sources.into_boxed_slice(),
            max_token_len,
        }
    }

    /// Hides the credential of an admitted request from what comes after:
    /// the headers the sources read are marked sensitive (not printed by
    /// `Debug`, not indexed by HPACK), and a token that came in the query is
    /// removed from the URI.
    pub(crate) fn scrub(&self, parts: &mut Parts, origin: Origin) {
        if !origin.marked {
            for source in &self.sources {
                source.mark_sensitive(&mut parts.headers);
            }
        }
        if origin.from_query
            && let Some(stripped) = query::without_access_token(&parts.uri)
        {
            parts.uri = stripped;
        }
    }

    /// The default case in one header lookup: the `Authorization` header is
    /// the only source and no field of the request is repeated (so neither
    /// is it); the header is marked sensitive, and its token, when it is at
    /// most [`COPIED_TOKEN`] bytes, copied into `copy`. `None` when this
    /// does not apply: [`extract`](Self::extract) then decides.
    pub(crate) fn take_authorization<'b>(
        &self,
        parts: &mut Parts,
        copy: &'b mut [u8; COPIED_TOKEN],
    ) -> Option<Result<&'b str, RejectionKind>> {
        if !self.authorization_only || parts.headers.len() != parts.headers.keys_len() {
            return None;
        }
        let Some(value) = parts.headers.get_mut(AUTHORIZATION) else {
            return Some(Err(RejectionKind::MissingCredentials));
        };
        value.set_sensitive(true);
        Some(
            match authorization::parse_bytes(value.as_bytes(), self.max_token_len) {
                AuthorizationValue::NotBearer => Err(RejectionKind::UnsupportedScheme),
                AuthorizationValue::Bearer(Err(_)) => Err(RejectionKind::MalformedToken),
                AuthorizationValue::Bearer(Ok(token)) => {
                    let copied = copy.get_mut(..token.len())?;
                    copied.copy_from_slice(token);
                    std::str::from_utf8(copied).map_err(|_| RejectionKind::MalformedToken)
                }
            },
        )
    }

    /// Finds the request's single credential, or says why there is none.
    pub(crate) fn extract<'a>(&self, parts: &'a Parts) -> Result<Credential<'a>, RejectionKind> {
        if self.authorization_only {
            // One source: nothing can be ambiguous across sources.
            return match source::authorization(parts, self.max_token_len) {
                Lookup::Absent => Err(RejectionKind::MissingCredentials),
                Lookup::OtherScheme => Err(RejectionKind::UnsupportedScheme),
                Lookup::Repeated => Err(RejectionKind::AmbiguousCredentials),
                Lookup::Present(Err(_)) => Err(RejectionKind::MalformedToken),
                Lookup::Present(Ok(token)) => Ok(Credential {
                    token,
                    origin: Origin {
                        from_query: false,
                        marked: false,
                        started: crate::observe::Started::NONE,
                    },
                }),
            };
        }
        let mut found = None;
        let mut other_scheme = false;
        for source in &self.sources {
            match source.lookup(parts, self.max_token_len) {
                Lookup::Absent => {}
                Lookup::OtherScheme => other_scheme = true,
                Lookup::Repeated => return Err(RejectionKind::AmbiguousCredentials),
                Lookup::Present(token) => {
                    if found.is_some() {
                        return Err(RejectionKind::AmbiguousCredentials);
                    }
                    found = Some((token, *source == TokenSource::QueryParameter));
                }
            }
        }
        match found {
            None if other_scheme => Err(RejectionKind::UnsupportedScheme),
            None => Err(RejectionKind::MissingCredentials),
            Some((Err(_), _)) => Err(RejectionKind::MalformedToken),
            Some((Ok(token), from_query)) => Ok(Credential {
                token,
                origin: Origin {
                    from_query,
                    marked: false,
                    started: crate::observe::Started::NONE,
                },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderName;

    use super::*;

    fn all_sources() -> CredentialRules {
        CredentialRules::new(
            vec![
                TokenSource::AuthorizationHeader,
                TokenSource::Header(HeaderName::from_static("x-api-key")),
                TokenSource::Cookie("api_key".into()),
                TokenSource::QueryParameter,
            ],
            64,
        )
    }

    fn extract(
        rules: &CredentialRules,
        build: http::request::Builder,
    ) -> Result<String, RejectionKind> {
        let parts = build.body(()).expect("valid request").into_parts().0;
        rules
            .extract(&parts)
            .map(|credential| credential.token.into_owned())
    }

    #[test]
    fn the_authorization_header_alone_is_read_alone() {
        let rules = CredentialRules::new(vec![TokenSource::AuthorizationHeader], 4096);
        let ok = http::Request::builder().header("authorization", "Bearer t1");
        assert_eq!(extract(&rules, ok), Ok("t1".to_owned()));
        let cookie_only = http::Request::builder().header("cookie", "api_key=t1");
        assert_eq!(
            extract(&rules, cookie_only),
            Err(RejectionKind::MissingCredentials)
        );
    }

    #[test]
    fn each_source_alone_is_accepted() {
        let rules = all_sources();
        for build in [
            http::Request::builder().header("authorization", "Bearer t1"),
            http::Request::builder().header("x-api-key", "t1"),
            http::Request::builder().header("cookie", "api_key=t1"),
            http::Request::builder().uri("/?access_token=t1"),
        ] {
            assert_eq!(extract(&rules, build), Ok("t1".to_owned()));
        }
    }

    #[test]
    fn two_sources_are_ambiguous_even_with_the_same_token() {
        let rules = all_sources();
        let build = http::Request::builder()
            .uri("/?access_token=t1")
            .header("authorization", "Bearer t1");
        assert_eq!(
            extract(&rules, build),
            Err(RejectionKind::AmbiguousCredentials)
        );
        let build = http::Request::builder()
            .header("x-api-key", "t1")
            .header("cookie", "api_key=t2");
        assert_eq!(
            extract(&rules, build),
            Err(RejectionKind::AmbiguousCredentials)
        );
    }

    #[test]
    fn a_malformed_candidate_still_counts_as_a_credential() {
        let rules = all_sources();
        let build = http::Request::builder()
            .header("authorization", "Bearer a b")
            .header("x-api-key", "t1");
        assert_eq!(
            extract(&rules, build),
            Err(RejectionKind::AmbiguousCredentials)
        );
        let build = http::Request::builder().header("authorization", "Bearer a b");
        assert_eq!(extract(&rules, build), Err(RejectionKind::MalformedToken));
    }

    #[test]
    fn another_scheme_is_reported_as_such_unless_a_token_is_elsewhere() {
        let rules = all_sources();
        let build = http::Request::builder().header("authorization", "Basic abc");
        assert_eq!(
            extract(&rules, build),
            Err(RejectionKind::UnsupportedScheme)
        );
        let build = http::Request::builder()
            .header("authorization", "Basic abc")
            .header("x-api-key", "t1");
        assert_eq!(extract(&rules, build), Ok("t1".to_owned()));
    }

    #[test]
    fn query_tokens_are_flagged() {
        let rules = all_sources();
        let parts = http::Request::builder()
            .uri("/?access_token=t1")
            .body(())
            .expect("valid request")
            .into_parts()
            .0;
        assert!(rules.extract(&parts).expect("credential").origin.from_query);
    }

    mod properties {
        use http::HeaderValue;
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #[test]
            fn arbitrary_header_bytes_never_panic(
                authorization in proptest::collection::vec(any::<u8>(), 0..300),
                api_key in proptest::collection::vec(any::<u8>(), 0..300),
                cookie in proptest::collection::vec(any::<u8>(), 0..300),
                query in "[ -~]{0,200}",
            ) {
                let rules = all_sources();
                let mut builder = http::Request::builder();
                for (name, bytes) in [("authorization", &authorization), ("x-api-key", &api_key), ("cookie", &cookie)] {
                    if let Ok(value) = HeaderValue::from_bytes(bytes) {
                        builder = builder.header(name, value);
                    }
                }
                let uri = format!("/p?{}", query.replace(['#', ' '], ""));
                if let Ok(request) = builder.uri(uri).body(()) {
                    let parts = request.into_parts().0;
                    if let Ok(credential) = rules.extract(&parts) {
                        prop_assert!(!credential.token.is_empty());
                        prop_assert!(credential.token.len() <= 64);
                    }
                }
            }
        }
    }
}
