//! The ports: what the core needs from the outside world, as async traits.
//!
//! Adapters implement them (`fapiao-weixin`, `fapiao-storage`, issuers); the application is
//! generic over them, so the core runs entirely on mocks (`mocks` feature, mockall) and the
//! in-memory fakes of [`crate::testing`].
//!
//! Each method documents its `# Errors` contract; implementers MUST honour it, because the
//! workflow decides on the variant (retry, query, needs-attention).

mod issuer;
mod persistence;
mod system;
mod webhook;
mod weixin;

pub use issuer::*;
pub use persistence::*;
pub use system::*;
pub use webhook::*;
pub use weixin::*;
