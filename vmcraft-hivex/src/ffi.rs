//! The few declarations of `<hivex.h>` (libhivex 1.3) this crate calls: the C
//! library's own names and types, nothing more. Every function returns 0 / NULL /
//! -1 on error and sets `errno`; returned strings and arrays are `malloc`ed and
//! freed by the caller with `free(3)`.

#![allow(non_camel_case_types, missing_docs)]

use libc::{c_char, c_int, size_t};

/// The opaque handle.
#[repr(C)]
pub struct hive_h {
    _private: [u8; 0],
}

pub type hive_node_h = size_t;
pub type hive_value_h = size_t;
/// `enum hive_type` (an `int`-sized C enum).
pub type hive_type = u32;

pub const HIVEX_OPEN_VERBOSE: c_int = 1;
pub const HIVEX_OPEN_DEBUG: c_int = 2;
pub const HIVEX_OPEN_WRITE: c_int = 4;
pub const HIVEX_OPEN_UNSAFE: c_int = 8;

#[repr(C)]
pub struct hive_set_value {
    pub key: *mut c_char,
    pub t: hive_type,
    pub len: size_t,
    pub value: *mut c_char,
}

#[link(name = "hivex")]
unsafe extern "C" {
    pub fn hivex_open(filename: *const c_char, flags: c_int) -> *mut hive_h;
    pub fn hivex_close(h: *mut hive_h) -> c_int;
    pub fn hivex_root(h: *mut hive_h) -> hive_node_h;
    pub fn hivex_node_name(h: *mut hive_h, node: hive_node_h) -> *mut c_char;
    pub fn hivex_node_children(h: *mut hive_h, node: hive_node_h) -> *mut hive_node_h;
    pub fn hivex_node_get_child(
        h: *mut hive_h,
        node: hive_node_h,
        name: *const c_char,
    ) -> hive_node_h;
    pub fn hivex_node_parent(h: *mut hive_h, node: hive_node_h) -> hive_node_h;
    pub fn hivex_node_values(h: *mut hive_h, node: hive_node_h) -> *mut hive_value_h;
    pub fn hivex_node_get_value(
        h: *mut hive_h,
        node: hive_node_h,
        key: *const c_char,
    ) -> hive_value_h;
    pub fn hivex_value_key(h: *mut hive_h, val: hive_value_h) -> *mut c_char;
    pub fn hivex_value_type(
        h: *mut hive_h,
        val: hive_value_h,
        t: *mut hive_type,
        len: *mut size_t,
    ) -> c_int;
    pub fn hivex_value_value(
        h: *mut hive_h,
        val: hive_value_h,
        t: *mut hive_type,
        len: *mut size_t,
    ) -> *mut c_char;
    pub fn hivex_value_string(h: *mut hive_h, val: hive_value_h) -> *mut c_char;
    pub fn hivex_value_multiple_strings(h: *mut hive_h, val: hive_value_h) -> *mut *mut c_char;
    pub fn hivex_value_dword(h: *mut hive_h, val: hive_value_h) -> i32;
    pub fn hivex_value_qword(h: *mut hive_h, val: hive_value_h) -> i64;
    pub fn hivex_commit(h: *mut hive_h, filename: *const c_char, flags: c_int) -> c_int;
    pub fn hivex_node_add_child(
        h: *mut hive_h,
        parent: hive_node_h,
        name: *const c_char,
    ) -> hive_node_h;
    pub fn hivex_node_delete_child(h: *mut hive_h, node: hive_node_h) -> c_int;
    pub fn hivex_node_set_values(
        h: *mut hive_h,
        node: hive_node_h,
        nr_values: size_t,
        values: *const hive_set_value,
        flags: c_int,
    ) -> c_int;
}
