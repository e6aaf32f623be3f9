//! Scope requirements per route and per gRPC method.

use std::collections::HashMap;

use http::Method;
use http::request::Parts;

use super::{ScopePolicy, ScopeRequirement, ScopeSet};
use crate::error::ConfigError;
use crate::principal::Principal;

/// What a [`ScopeTable`] does with a path it does not list.
///
/// [`Forbidden`](Self::Forbidden) is the safe default: a route or gRPC
/// method added later, or a path the table's author did not think of (a
/// typo, another case, an unknown method), is refused until someone lists
/// it, so a forgotten entry shows up as a 403 in testing rather than as an
/// open door in production. Use [`Authenticated`](Self::Authenticated) only
/// when every unlisted path is checked elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlisted {
    /// Any valid token may access it (scopes are checked elsewhere, e.g. by
    /// a per-route [`RequireScopeLayer`](super::RequireScopeLayer)). Fails
    /// open for every path nobody listed.
    Authenticated,
    /// Refuse with 403: every protected path must be listed. The safe choice.
    Forbidden,
}

/// A scope policy keyed by request path (and optionally method): REST routes
/// and gRPC methods (`/package.Service/Method`) alike.
///
/// tonic interceptors cannot see which method is being called; this layer
/// can, because it sees the HTTP/2 request path.
///
/// Lookup order: an exact path with a matching method, the exact path for
/// any method, then the longest matching prefix (patterns ending in `/*`),
/// then the [`Unlisted`] rule. A `HEAD` request with no `HEAD` rule takes
/// the `GET` rule (servers answer `HEAD` with the `GET` handler), before
/// the any-method rule. A pattern `/x/*` covers `/x` too, unless `/x` has an
/// exact entry. Paths are compared byte for byte: no percent-decoding, no
/// trailing-slash folding.
///
/// ```
/// use http::Method;
/// use tower_bearer_auth::ScopeRequirement;
/// use tower_bearer_auth::scope::{ScopeTable, Unlisted};
///
/// let table = ScopeTable::new(Unlisted::Forbidden)
///     .grpc_method("demo.v1.Profiles", "GetProfile", ScopeRequirement::all(["profile:read"])?)?
///     .grpc_method("demo.v1.Profiles", "PlaceCall", ScopeRequirement::all(["calls:write"])?)?
///     .route_method(Method::GET, "/v1/profile", ScopeRequirement::all(["profile:read"])?)?
///     .route("/v1/admin/*", ScopeRequirement::all(["admin"])?)?;
/// # Ok::<(), tower_bearer_auth::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ScopeTable {
    exact: HashMap<Box<str>, RouteRules>,
    /// Sorted by prefix length, longest first.
    prefixes: Vec<(Box<str>, RouteRules)>,
    unlisted: Unlisted,
}

#[derive(Debug, Clone, Default)]
struct RouteRules {
    any_method: Option<ScopeRequirement>,
    by_method: Vec<(Method, ScopeRequirement)>,
}

impl RouteRules {
    /// The rule for `method`: its own, else (for `HEAD`) the `GET` rule, as
    /// HTTP servers answer `HEAD` with the `GET` handler, else the
    /// any-method rule.
    fn get(&self, method: &Method) -> Option<&ScopeRequirement> {
        let own = |method: &Method| {
            self.by_method
                .iter()
                .find(|(m, _)| m == method)
                .map(|(_, requirement)| requirement)
        };
        own(method)
            .or_else(|| {
                (*method == Method::HEAD)
                    .then(|| own(&Method::GET))
                    .flatten()
            })
            .or(self.any_method.as_ref())
    }

    fn set(&mut self, method: Option<Method>, requirement: ScopeRequirement) -> Result<(), ()> {
        let slot = match method {
            None => &mut self.any_method,
            Some(method) => {
                if self.by_method.iter().any(|(m, _)| *m == method) {
                    return Err(());
                }
                self.by_method.push((method, requirement));
                return Ok(());
            }
        };
        if slot.is_some() {
            return Err(());
        }
        *slot = Some(requirement);
        Ok(())
    }
}

impl ScopeTable {
    /// An empty table; `unlisted` says what happens to paths it does not list.
    #[must_use]
    pub fn new(unlisted: Unlisted) -> Self {
        Self {
            exact: HashMap::new(),
            prefixes: Vec::new(),
            unlisted,
        }
    }

    /// Requires `requirement` for `path`, whatever the method. A path ending
    /// in `/*` matches every path under it.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if `path` does not start with `/` or is already listed.
    pub fn route(self, path: &str, requirement: ScopeRequirement) -> Result<Self, ConfigError> {
        self.insert(None, path, requirement)
    }

    /// Requires `requirement` for `method` on `path`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if `path` does not start with `/` or this method and
    /// path are already listed.
    pub fn route_method(
        self,
        method: Method,
        path: &str,
        requirement: ScopeRequirement,
    ) -> Result<Self, ConfigError> {
        self.insert(Some(method), path, requirement)
    }

    /// Requires `requirement` for one gRPC method: the path
    /// `/{service}/{method}`, where `service` is fully qualified
    /// (`package.Service`). Use `"*"` as `method` for every method of the
    /// service.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if the names are empty or contain `/`, or the method
    /// is already listed.
    pub fn grpc_method(
        self,
        service: &str,
        method: &str,
        requirement: ScopeRequirement,
    ) -> Result<Self, ConfigError> {
        let valid = |name: &str| !name.is_empty() && !name.contains('/');
        if !valid(service) || !valid(method) {
            return Err(ConfigError::InvalidGrpcMethod {
                service: service.to_owned(),
                method: method.to_owned(),
            });
        }
        self.insert(None, &format!("/{service}/{method}"), requirement)
    }

    fn insert(
        mut self,
        method: Option<Method>,
        path: &str,
        requirement: ScopeRequirement,
    ) -> Result<Self, ConfigError> {
        let invalid = || ConfigError::InvalidPath {
            path: path.to_owned(),
        };
        if !path.starts_with('/') {
            return Err(invalid());
        }
        let duplicate = ConfigError::DuplicateRoute {
            path: path.to_owned(),
            method: method.clone(),
        };
        if let Some(prefix) = path.strip_suffix('*') {
            if !prefix.ends_with('/') {
                return Err(invalid());
            }
            let index = match self.prefixes.iter().position(|(p, _)| &**p == prefix) {
                Some(index) => index,
                None => {
                    self.prefixes.push((prefix.into(), RouteRules::default()));
                    self.prefixes
                        .sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
                    self.prefixes
                        .iter()
                        .position(|(p, _)| &**p == prefix)
                        .unwrap_or_default()
                }
            };
            self.prefixes[index]
                .1
                .set(method, requirement)
                .map_err(|()| duplicate)?;
        } else {
            self.exact
                .entry(path.into())
                .or_default()
                .set(method, requirement)
                .map_err(|()| duplicate)?;
        }
        Ok(self)
    }

    /// The requirement that applies to `method` on `path`, if the table
    /// lists one.
    #[must_use]
    pub fn requirement(&self, method: &Method, path: &str) -> Option<&ScopeRequirement> {
        if let Some(found) = self.exact.get(path).and_then(|rules| rules.get(method)) {
            return Some(found);
        }
        self.prefixes
            .iter()
            .filter(|(prefix, _)| covers(prefix, path))
            .find_map(|(_, rules)| rules.get(method))
    }
}

/// Whether the pattern `<prefix>*` covers `path`: every path under
/// `prefix`, and the prefix without its final `/` (`/admin/*` covers
/// `/admin`, which routers serve as the index of the same tree).
fn covers(prefix: &str, path: &str) -> bool {
    path.starts_with(prefix) || prefix.strip_suffix('/') == Some(path)
}

impl<P: Principal> ScopePolicy<P> for ScopeTable {
    fn authorize(&self, request: &Parts, principal: &P) -> Result<(), ScopeSet> {
        match self.requirement(&request.method, request.uri.path()) {
            Some(requirement) => requirement.authorize(request, principal),
            None => match self.unlisted {
                Unlisted::Authenticated => Ok(()),
                Unlisted::Forbidden => Err(ScopeSet::empty()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(scopes: &[&str]) -> ScopeRequirement {
        ScopeRequirement::all(scopes).expect("valid scopes")
    }

    fn request(method: Method, path: &str) -> Parts {
        http::Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .expect("valid request")
            .into_parts()
            .0
    }

    fn table() -> ScopeTable {
        ScopeTable::new(Unlisted::Forbidden)
            .grpc_method("demo.v1.Profiles", "GetProfile", all(&["profile:read"]))
            .and_then(|t| t.grpc_method("demo.v1.Profiles", "PlaceCall", all(&["calls:write"])))
            .and_then(|t| t.route_method(Method::GET, "/v1/calls", all(&["calls:read"])))
            .and_then(|t| t.route("/v1/calls", all(&["calls:write"])))
            .and_then(|t| t.route("/v1/*", all(&["v1"])))
            .and_then(|t| t.route("/v1/admin/*", all(&["admin"])))
            .expect("valid table")
    }

    fn decide(path: &str, method: Method, scopes: &str) -> Result<(), ScopeSet> {
        let holder = ScopeSet::parse(scopes).expect("valid scopes");
        table().authorize(&request(method, path), &holder)
    }

    #[test]
    fn grpc_methods_get_their_own_scopes() {
        let path = "/demo.v1.Profiles/GetProfile";
        assert_eq!(decide(path, Method::POST, "profile:read"), Ok(()));
        let refused = decide("/demo.v1.Profiles/PlaceCall", Method::POST, "profile:read");
        assert_eq!(refused, Err(ScopeSet::parse("calls:write").expect("valid")));
    }

    #[test]
    fn method_specific_entries_win_over_any_method() {
        assert_eq!(decide("/v1/calls", Method::GET, "calls:read"), Ok(()));
        assert!(decide("/v1/calls", Method::POST, "calls:read").is_err());
        assert_eq!(decide("/v1/calls", Method::POST, "calls:write"), Ok(()));
    }

    #[test]
    fn longest_prefix_wins() {
        assert_eq!(decide("/v1/other", Method::GET, "v1"), Ok(()));
        assert!(decide("/v1/admin/users", Method::GET, "v1").is_err());
        assert_eq!(decide("/v1/admin/users", Method::GET, "admin"), Ok(()));
    }

    #[test]
    fn head_takes_the_get_rule_unless_it_has_its_own() {
        let table = ScopeTable::new(Unlisted::Authenticated)
            .route_method(Method::GET, "/v1/profile", all(&["profile:read"]))
            .and_then(|t| t.route_method(Method::GET, "/v1/calls", all(&["calls:read"])))
            .and_then(|t| t.route_method(Method::HEAD, "/v1/calls", all(&["calls:head"])))
            .and_then(|t| t.route("/v1/calls", all(&["calls:any"])))
            .and_then(|t| t.route_method(Method::GET, "/docs/*", all(&["docs:read"])))
            .expect("valid table");
        let head = |path: &str| {
            table
                .requirement(&Method::HEAD, path)
                .map(|r| r.scopes().as_str().to_owned())
        };
        assert_eq!(head("/v1/profile").as_deref(), Some("profile:read"));
        assert_eq!(head("/v1/calls").as_deref(), Some("calls:head"));
        assert_eq!(head("/docs/intro").as_deref(), Some("docs:read"));
        // GET's rule does not leak to other methods.
        assert_eq!(
            table
                .requirement(&Method::POST, "/v1/profile")
                .map(|r| r.scopes().as_str()),
            None
        );
        let holder = ScopeSet::empty();
        assert!(
            table
                .authorize(&request(Method::HEAD, "/v1/profile"), &holder)
                .is_err()
        );
    }

    #[test]
    fn a_prefix_pattern_covers_its_index_path() {
        let table = ScopeTable::new(Unlisted::Authenticated)
            .route("/admin/*", all(&["admin"]))
            .and_then(|t| t.route("/v1/*", all(&["v1"])))
            .and_then(|t| t.route("/v1", all(&["index"])))
            .expect("valid table");
        let scopes = |path: &str| {
            table
                .requirement(&Method::GET, path)
                .map(|r| r.scopes().as_str().to_owned())
        };
        assert_eq!(scopes("/admin").as_deref(), Some("admin"));
        assert_eq!(scopes("/admin/").as_deref(), Some("admin"));
        assert_eq!(scopes("/admin/users").as_deref(), Some("admin"));
        // An exact entry for the index path wins over the pattern.
        assert_eq!(scopes("/v1").as_deref(), Some("index"));
        // Only the index path, not every path that shares the prefix text.
        assert_eq!(scopes("/administrator"), None);
        let holder = ScopeSet::empty();
        assert!(
            table
                .authorize(&request(Method::GET, "/admin"), &holder)
                .is_err()
        );
    }

    #[test]
    fn unlisted_paths_follow_the_rule() {
        assert_eq!(
            decide("/v2/x", Method::GET, "admin"),
            Err(ScopeSet::empty())
        );
        let open = ScopeTable::new(Unlisted::Authenticated);
        let holder = ScopeSet::empty();
        assert_eq!(open.authorize(&request(Method::GET, "/x"), &holder), Ok(()));
    }

    #[test]
    fn matching_is_exact_bytes() {
        // No case folding, no trailing-slash folding: "/V1/calls" is unlisted, so it
        // falls to the `Forbidden` rule rather than silently matching.
        assert_eq!(
            decide("/V1/calls", Method::POST, "calls:write"),
            Err(ScopeSet::empty())
        );
    }

    #[test]
    fn bad_configurations_are_errors() {
        let t = || ScopeTable::new(Unlisted::Forbidden);
        assert!(t().route("v1", all(&["a"])).is_err());
        assert!(t().route("/v1*", all(&["a"])).is_err());
        assert!(t().grpc_method("a/b", "M", all(&["a"])).is_err());
        assert!(t().grpc_method("svc", "", all(&["a"])).is_err());
        let twice = t()
            .route("/a", all(&["a"]))
            .and_then(|t| t.route("/a", all(&["b"])));
        assert!(twice.is_err());
        let twice = t()
            .route_method(Method::GET, "/a/*", all(&["a"]))
            .and_then(|t| t.route_method(Method::GET, "/a/*", all(&["b"])));
        assert!(twice.is_err());
    }
}
