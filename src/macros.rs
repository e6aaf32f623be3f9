//! The crate's two macros: the inner-service accessors every middleware
//! service shares (tower-http's `define_inner_service_accessors!`), and a
//! log event that compiles away without the `tracing` feature (defined once
//! per feature state, as axum-core does), so that each event is written
//! once instead of as a pair of functions.

/// `get_ref`, `get_mut` and `into_inner` for a service whose inner service
/// is its field `inner`, of type `S`.
macro_rules! define_inner_service_accessors {
    () => {
        /// The inner service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// The inner service, mutably.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// Unwraps the inner service.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}

/// `trace_event!(warn!(field, "message"))`: the `tracing` event with the
/// feature, nothing without it. A function whose parameters only feed
/// events carries `#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]`.
#[cfg(feature = "tracing")]
macro_rules! trace_event {
    ($level:ident!($($event:tt)*)) => {
        ::tracing::$level!($($event)*)
    };
}

/// `trace_event!(warn!(field, "message"))`: `()` without `tracing`.
#[cfg(not(feature = "tracing"))]
macro_rules! trace_event {
    ($level:ident!($($event:tt)*)) => {
        ()
    };
}
