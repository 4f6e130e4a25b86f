//! Raw Linux ioctl declarations for block devices, BLKPG partition updates and loop
//! devices (`linux/fs.h`, `linux/blkpg.h`, `linux/loop.h`). Only this crate's safe
//! wrappers call them.

#![allow(missing_docs)]

use libc::c_int;

// linux/fs.h. Several of these are declared `_IO` but take a pointer; some declared
// with `size_t` really transfer an `int` (BLKBSZGET uses put_int).
nix::ioctl_write_ptr_bad!(blkroset, nix::request_code_none!(0x12, 93), c_int);
nix::ioctl_read_bad!(blkroget, nix::request_code_none!(0x12, 94), c_int);
nix::ioctl_none!(blkrrpart, 0x12, 95);
nix::ioctl_none!(blkflsbuf, 0x12, 97);
nix::ioctl_read_bad!(blksszget, nix::request_code_none!(0x12, 104), c_int);
nix::ioctl_write_ptr_bad!(blkpg, nix::request_code_none!(0x12, 105), BlkpgIoctlArg);
nix::ioctl_read_bad!(
    blkbszget,
    nix::request_code_read!(0x12, 112, std::mem::size_of::<usize>()),
    c_int
);
nix::ioctl_read!(blkgetsize64, 0x12, 114, u64);
nix::ioctl_write_ptr_bad!(blkdiscard, nix::request_code_none!(0x12, 119), [u64; 2]);
nix::ioctl_read_bad!(blkpbszget, nix::request_code_none!(0x12, 123), libc::c_uint);
nix::ioctl_write_ptr_bad!(blkzeroout, nix::request_code_none!(0x12, 127), [u64; 2]);

// linux/blkpg.h
pub const BLKPG_ADD_PARTITION: c_int = 1;
pub const BLKPG_DEL_PARTITION: c_int = 2;
pub const BLKPG_RESIZE_PARTITION: c_int = 3;

#[repr(C)]
pub struct BlkpgIoctlArg {
    pub op: c_int,
    pub flags: c_int,
    pub datalen: c_int,
    pub data: *mut libc::c_void,
}

#[repr(C)]
pub struct BlkpgPartition {
    /// Start in bytes.
    pub start: i64,
    /// Length in bytes.
    pub length: i64,
    pub pno: c_int,
    pub devname: [u8; 64],
    pub volname: [u8; 64],
}

// linux/loop.h
pub const LO_FLAGS_READ_ONLY: u32 = 1;
pub const LO_FLAGS_AUTOCLEAR: u32 = 4;
pub const LO_FLAGS_PARTSCAN: u32 = 8;
pub const LO_FLAGS_DIRECT_IO: u32 = 16;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct LoopInfo64 {
    pub lo_device: u64,
    pub lo_inode: u64,
    pub lo_rdevice: u64,
    pub lo_offset: u64,
    pub lo_sizelimit: u64,
    pub lo_number: u32,
    pub lo_encrypt_type: u32,
    pub lo_encrypt_key_size: u32,
    pub lo_flags: u32,
    pub lo_file_name: [u8; 64],
    pub lo_crypt_name: [u8; 64],
    pub lo_encrypt_key: [u8; 32],
    pub lo_init: [u64; 2],
}

impl Default for LoopInfo64 {
    fn default() -> Self {
        // SAFETY: an all-zero loop_info64 is the kernel's own "nothing set" value.
        unsafe { std::mem::zeroed() }
    }
}

#[repr(C)]
pub struct LoopConfig {
    pub fd: u32,
    pub block_size: u32,
    pub info: LoopInfo64,
    pub reserved: [u64; 8],
}

nix::ioctl_write_int_bad!(loop_set_fd, 0x4C00);
nix::ioctl_none_bad!(loop_clr_fd, 0x4C01);
nix::ioctl_write_ptr_bad!(loop_set_status64, 0x4C04, LoopInfo64);
nix::ioctl_read_bad!(loop_get_status64, 0x4C05, LoopInfo64);
nix::ioctl_write_int_bad!(loop_set_direct_io, 0x4C08);
nix::ioctl_write_int_bad!(loop_set_block_size, 0x4C09);
nix::ioctl_write_ptr_bad!(loop_configure, 0x4C0A, LoopConfig);
nix::ioctl_none_bad!(loop_ctl_get_free, 0x4C82);
