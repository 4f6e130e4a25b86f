//! Test support for every VMCraft crate (feature `test-utils`): the scripted and
//! recording [`FakeRunner`], loud skips and strict mode ([`skip`]), fixtures that
//! make sparse images and loop devices and clean up even when the test panics
//! ([`TestEnv`], [`LoopFixture`]), a leak check, and the [`conformance`] suite every
//! [`crate::BlockDevice`] implementation must pass.

pub mod conformance;
mod fake;
mod fixtures;
pub mod skip;

pub use fake::{FakeRunner, Response};
pub use fixtures::{LoopFixture, TestEnv, leaks};
pub use skip::{is_root, require_kernel_feature, require_root, require_tool, strict};
