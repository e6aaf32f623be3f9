//! A per-route scope check, for inside one outer authentication layer.

mod future;
mod layer;
mod service;

pub use self::future::RequireScopeFuture;
pub use self::layer::RequireScopeLayer;
pub use self::service::RequireScope;
