//! What a request costs in usage credits: 1 by default, or per route or
//! gRPC method (`/package.Service/Method` is a path like any other).

use std::collections::HashMap;

/// The credit cost of requests, by path: an exact path, else the longest
/// matching prefix, else the default (1). A cost of 0 spends nothing but
/// still refuses a key whose balance is 0.
///
/// ```
/// use tower_bearer_auth::key_policy::CreditCosts;
///
/// let costs = CreditCosts::new()
///     .route("/v1/calls", 5)
///     .prefix("/v1/status/", 0)
///     .route("/dialer.v1.Dialer/Dial", 5);
/// assert_eq!(costs.cost("/v1/calls"), 5);
/// assert_eq!(costs.cost("/v1/status/health"), 0);
/// assert_eq!(costs.cost("/v1/profile"), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditCosts {
    default: u32,
    routes: HashMap<Box<str>, u32>,
    /// Longest first.
    prefixes: Vec<(Box<str>, u32)>,
}

impl Default for CreditCosts {
    fn default() -> Self {
        Self::new()
    }
}

impl CreditCosts {
    /// Every request costs 1.
    #[must_use]
    pub fn new() -> Self {
        Self {
            default: 1,
            routes: HashMap::new(),
            prefixes: Vec::new(),
        }
    }

    /// The cost of a request no route or prefix names.
    #[must_use]
    pub const fn default_cost(mut self, cost: u32) -> Self {
        self.default = cost;
        self
    }

    /// The cost of requests to exactly `path`.
    #[must_use]
    pub fn route(mut self, path: &str, cost: u32) -> Self {
        self.routes.insert(path.into(), cost);
        self
    }

    /// The cost of requests whose path starts with `prefix` (the longest
    /// matching prefix wins; an exact route wins over any prefix).
    #[must_use]
    pub fn prefix(mut self, prefix: &str, cost: u32) -> Self {
        self.prefixes.retain(|(known, _)| **known != *prefix);
        self.prefixes.push((prefix.into(), cost));
        self.prefixes
            .sort_by(|(a, _), (b, _)| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        self
    }

    /// The cost of a request to `path`.
    #[must_use]
    pub fn cost(&self, path: &str) -> u32 {
        // No hashing of the path when no route is listed (the default).
        if !self.routes.is_empty()
            && let Some(cost) = self.routes.get(path)
        {
            return *cost;
        }
        self.prefixes
            .iter()
            .find(|(prefix, _)| path.starts_with(&**prefix))
            .map_or(self.default, |(_, cost)| *cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_routes_win_then_the_longest_prefix_then_the_default() {
        let costs = CreditCosts::new()
            .default_cost(2)
            .prefix("/v1/", 3)
            .prefix("/v1/calls/", 4)
            .route("/v1/calls/free", 0);
        assert_eq!(costs.cost("/v1/calls/free"), 0);
        assert_eq!(costs.cost("/v1/calls/123"), 4);
        assert_eq!(costs.cost("/v1/profile"), 3);
        assert_eq!(costs.cost("/health"), 2);
        assert_eq!(costs.prefix("/v1/", 9).cost("/v1/profile"), 9);
    }
}
