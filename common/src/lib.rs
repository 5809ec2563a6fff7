//! What picket-server and picket-sentinel share: RESP framing, networking that runs on real
//! tokio and inside turmoil, the clock and seeded ids, Redis glob matching and the
//! configuration model.

pub mod clock;
pub mod config;
pub mod fdlimit;
pub mod glob;
pub mod ids;
pub mod net;
pub mod resp;
pub mod sds;
pub mod tls;
