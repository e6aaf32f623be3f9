//! A per-route scope check, for inside one outer authentication layer.

mod future;
mod layer;
mod service;

pub use future::RequireScopeFuture;
pub use layer::RequireScopeLayer;
pub use service::RequireScope;
