//! LVM administration beyond create/remove: canonical names, renames, PV resizing, UUIDs and their listings, metadata dumps, scanning and device filters.

impl crate::session::VMCraft {}
