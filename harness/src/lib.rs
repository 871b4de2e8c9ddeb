//! The test kit every socket-claims suite links: the [`claim`] check ([`check`]) and the
//! evidence it records ([`record`]), the claim catalogue ([`catalogue`]), the running kernel
//! ([`kernel`]), private network namespaces ([`sandbox`]), loopback peers ([`peers`]), bounded
//! waits ([`wait`]), privilege detection ([`privileges`]), sysctls ([`sysctl`]), forked
//! children ([`fork`]), the command-line tools some claims
//! need ([`tools`]) and the speed primitives of the short speed tests ([`bench`]).

pub mod bench;
pub mod catalogue;
pub mod check;
pub mod fork;
pub mod kernel;
pub mod lock;
pub mod peers;
pub mod privileges;
pub mod record;
pub mod run;
pub mod sandbox;
pub mod skip;
pub mod sysctl;
pub mod tools;
pub mod wait;
pub mod workspace;

pub use check::{claim, Ctx};
pub use peers::{errno, Family};
pub use privileges::Cap;
pub use skip::skip;
pub use workspace::root as workspace_root;
