//! Test support for every VMCraft crate (feature `test-utils`): the scripted and
//! recording [`FakeRunner`], loud skips and strict mode ([`skip`]), fixtures that
//! make sparse images and loop devices and clean up even when the test panics
//! ([`TestEnv`], [`LoopFixture`]), a leak check ([`leaks`], which fails rather than
//! pass when it cannot look), [`attach_with_legacy_ioctls`] to reach the pre-5.8
//! loop binding path on any kernel, [`RemoteCancel`] to cancel a call at a known
//! point from another thread, and the [`conformance`] suite every
//! [`crate::BlockDevice`] implementation must pass.

pub mod conformance;
mod fake;
mod fixtures;
mod remote;
pub mod skip;

use std::path::Path;

use crate::{LoopDevice, LoopOptions, Result};

pub use fake::{FakeRunner, Response};
pub use fixtures::{LoopFixture, TestEnv, leaks, try_leaks};
pub use remote::RemoteCancel;
pub use skip::{is_root, kernel_tier, require_kernel_feature, require_root, require_tool, strict};

/// [`LoopDevice::attach`] the way kernels before 5.8 must bind a device
/// (`LOOP_SET_FD`, then each setting with its own ioctl) even where
/// `LOOP_CONFIGURE` exists, so that tests reach that path on any kernel.
///
/// ```no_run
/// use vmcraft_block::{BlockDevice, LoopOptions, testing::attach_with_legacy_ioctls};
/// let opts = LoopOptions { block_size: 4096, ..Default::default() };
/// let lo = attach_with_legacy_ioctls("disk.img", opts)?;
/// assert_eq!(lo.node().logical_sector_size()?, 4096);
/// # Ok::<(), vmcraft_block::Error>(())
/// ```
pub fn attach_with_legacy_ioctls(file: impl AsRef<Path>, opts: LoopOptions) -> Result<LoopDevice> {
    LoopDevice::attach_via(file.as_ref(), opts, crate::loopdev::Binding::Legacy)
}
