//! HTTPS between member nodes (protocol.md §4): the pinned client, signed-request
//! authentication, the replay memory, the JSON error shape and a rustls server runner.
//!
//! The routes themselves live with the server; this module is the layer they stand on.

pub mod auth;
pub mod body;
pub mod client;
pub mod clock;
pub mod error;
pub mod rate;
pub mod replay;
pub mod serve;

pub use auth::{AuthLayerState, AuthenticatedMember, Membership, MembershipLookup};
pub use clock::{Clock, FixedClock, SystemClock};
pub use error::{ApiError, ErrorCode};
pub use rate::{PeerKey, RateLimiter};
pub use replay::{ReplayError, ReplayMemory};
pub use serve::{RunningServer, serve_tls};
