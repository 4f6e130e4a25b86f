//! # vmcraft-lvm
//!
//! LVM through the lvm2 tools, with libguestfs's call names and semantics, safe to
//! run on a host that has volume groups of its own.
//!
//! An [`Lvm`] session holds a [`CommandRunner`](vmcraft_block::CommandRunner) and a
//! set of devices (the guest's disks and partitions). Every lvm2 command it runs
//! sees those devices and nothing else, reads a private `lvm.conf` instead of the
//! host's, and keeps its metadata backups, archives and locks in a private
//! directory removed with the session (see [`isolation`]): a guest VG named like a
//! host VG is created, listed and removed without the host's ever being read.
//!
//! - Creation and removal: [`Lvm::pvcreate`], [`Lvm::vgcreate`], [`Lvm::lvcreate`]
//!   with an [`LvSize`] (MiB, extents or a share of free space),
//!   [`Lvm::lvcreate_free`], [`Lvm::lvresize`], [`Lvm::lvresize_free`],
//!   [`Lvm::lvremove`], [`Lvm::vgremove`], [`Lvm::pvremove`],
//!   [`Lvm::lvm_remove_all`].
//! - Listings from lvm2's JSON reports: [`Lvm::pvs`], [`Lvm::vgs`], [`Lvm::lvs`] and
//!   [`Lvm::pvs_full`], [`Lvm::vgs_full`], [`Lvm::lvs_full`] returning
//!   [`LvmPv`], [`LvmVg`], [`LvmLv`] (libguestfs's field names, sizes in bytes).
//! - Where LVs lie: [`Lvm::lv_segments`] gives each segment's areas ([`LvSegment`],
//!   [`SegmentArea`]: PV extent runs in bytes, other LVs, missing PVs), and
//!   [`Lvm::lv_linear_segment`] the byte range of a single-segment linear LV on
//!   its PV, which a loop device can stand in for without device-mapper; a
//!   striped, RAID, mirror, thin or multi-segment LV is an
//!   [`ErrorKind::Unsupported`] error there.
//! - Activation: [`Lvm::vg_activate`], [`Lvm::vg_activate_all`], [`Lvm::vgscan`].
//!   Without device-mapper the session runs [`Mode::MetadataOnly`]: metadata is
//!   read and written for real, nothing is activated, and asking to activate is an
//!   [`ErrorKind::Unsupported`] error. Where it can activate, a device-mapper
//!   device of the host or of another session that carries one of the session's
//!   LV names or UUIDs (hosts and guests share `rhel/root`, clones share UUIDs)
//!   makes activation, deactivation, creation, resizing and removal an
//!   [`ErrorKind::Conflict`] error before lvm2 runs; [`Lvm::lv_dm_device`] finds
//!   an LV's own device by UUID and by the devices under it ([`dm`]).
//! - Every argument is checked before anything runs (names by lvm2's rules, sizes,
//!   percentages, devices that must belong to the session), and every command run
//!   or call refused is an [`AuditRecord`] in [`Lvm::audit_log`].
//!
//! ```
//! use std::sync::Arc;
//! use vmcraft_block::testing::{FakeRunner, Response};
//! use vmcraft_lvm::{Lvm, LvmOptions, LvSize, Mode, ErrorKind};
//!
//! let fake = Arc::new(FakeRunner::new());
//! let opts = LvmOptions { mode: Some(Mode::MetadataOnly), devices_option: Some(true), ..Default::default() };
//! let lvm = Lvm::with_options(fake.clone(), ["/dev/vmcraft-doc-a"], opts)?;
//!
//! fake.expect_prefix(&["lvm", "lvcreate"], Response::ok(""));
//! lvm.lvcreate("home", "data", LvSize::MiB(100))?;
//! let argv = fake.calls()[0].argv();
//! assert!(argv.ends_with(&["--driverloaded", "n", "--activate", "n", "--zero", "n", "--yes",
//!     "-L", "100m", "-n", "home", "data"].map(String::from)));
//!
//! // Refused before anything runs.
//! let e = lvm.lvcreate("home", "data", LvSize::MiB(0)).unwrap_err();
//! assert_eq!(e.kind(), ErrorKind::InvalidArgument);
//! assert_eq!(e.to_string(), "lvcreate: /dev/data/home: size 0 MiB is zero");
//! assert_eq!(fake.calls().len(), 1);
//! assert!(!lvm.audit_log()[1].attempted);
//! # Ok::<(), vmcraft_lvm::Error>(())
//! ```

#![deny(missing_docs)]

pub mod activation;
mod audit;
mod calls;
pub mod dm;
mod error;
pub mod isolation;
mod listing;
mod names;
mod report;
mod segments;
mod session;
mod size;

pub use activation::{Mode, device_mapper_available};
pub use audit::AuditRecord;
pub use error::{Error, ErrorKind, Result};
pub use names::{
    LvTarget, MAX_NAME_LEN, MAX_VG_LV_LEN, validate_lv_name, validate_new_lv, validate_new_vg_name,
    validate_vg_name,
};
pub use report::{LvmLv, LvmPv, LvmVg};
pub use segments::{LvSegment, SegmentArea};
pub use session::{Lvm, LvmOptions};
pub use size::LvSize;
