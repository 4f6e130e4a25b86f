//! `part_*` on the session's drives (vmcraft-part), with the partition and probe
//! caches of the drive invalidated after every change, and the LVM session told
//! about new or removed partitions.

use vmcraft_part::Partition;

use crate::error::Result;
use crate::session::VMCraft;

macro_rules! part_reader {
    ($($(#[$doc:meta])* $name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty;)*) => {$(
        $(#[$doc])*
        #[tracing::instrument(level = "debug", skip_all)]
        pub fn $name(&self, device: &str $(, $arg: $ty)*) -> Result<$ret> {
            self.with_drive(stringify!($name), device, |d| Ok(vmcraft_part::$name(d $(, $arg)*)?))
        }
    )*};
}

macro_rules! part_writer {
    ($($(#[$doc:meta])* $name:ident ( $($arg:ident : $ty:ty),* );)*) => {$(
        $(#[$doc])*
        #[tracing::instrument(level = "debug", skip_all)]
        pub fn $name(&self, device: &str $(, $arg: $ty)*) -> Result<()> {
            // LV windows over this drive (loop devices over its PVs, unmounted)
            // hold partitions busy and may not survive the edit: let them go first.
            if let Some(host) = self.attached_drive_host(device) {
                self.release_lv_windows_on(&host);
            }
            let r = self.with_drive(stringify!($name), device, |d| Ok(vmcraft_part::$name(d $(, $arg)*)?));
            self.after_table_change(device);
            r
        }
    )*};
}

impl VMCraft {
    fn after_table_change(&self, device: &str) {
        self.invalidate_drive(device);
        self.sync_lvm_devices();
    }

    part_writer! {
        /// Create a new, empty table (`part_init`): `gpt`/`efi` or `msdos`/`mbr`.
        part_init(parttype: &str);
        /// Add a partition (`part_add`): `p`/`l`/`e`, first and last sector
        /// (inclusive; a negative end counts from the end of the disk). A GPT
        /// partition is named `primary`, as libguestfs names it.
        part_add(prlogex: &str, startsect: i64, endsect: i64);
        /// Delete a partition (`part_del`).
        part_del(partnum: i32);
        /// One partition over the whole disk (`part_disk`).
        part_disk(parttype: &str);
        /// Move a partition's end (`part_resize`).
        part_resize(partnum: i32, endsect: i64);
        /// Set a GPT partition name (`part_set_name`).
        part_set_name(partnum: i32, name: &str);
        /// Set a GPT partition type GUID (`part_set_gpt_type`).
        part_set_gpt_type(partnum: i32, guid: &str);
        /// Set a GPT partition GUID (`part_set_gpt_guid`).
        part_set_gpt_guid(partnum: i32, guid: &str);
        /// Set the GPT disk GUID (`part_set_disk_guid`).
        part_set_disk_guid(guid: &str);
        /// Give the GPT disk a random GUID (`part_set_disk_guid_random`).
        part_set_disk_guid_random();
        /// Set GPT attribute bits (`part_set_gpt_attributes`).
        part_set_gpt_attributes(partnum: i32, attributes: i64);
        /// Set or clear the bootable flag (`part_set_bootable`).
        part_set_bootable(partnum: i32, bootable: bool);
        /// Set an MBR partition id (`part_set_mbr_id`).
        part_set_mbr_id(partnum: i32, idbyte: i32);
        /// Move the backup GPT to the end of a grown disk (`part_expand_gpt`).
        part_expand_gpt();
    }

    part_reader! {
        /// The partitions, positions in bytes, `part_end` inclusive (`part_list`).
        part_list() -> Vec<Partition>;
        /// `gpt` or `msdos` (`part_get_parttype`).
        part_get_parttype() -> String;
        /// A GPT partition name (`part_get_name`).
        part_get_name(partnum: i32) -> String;
        /// A GPT partition type GUID, upper-case (`part_get_gpt_type`).
        part_get_gpt_type(partnum: i32) -> String;
        /// A GPT partition GUID (`part_get_gpt_guid`).
        part_get_gpt_guid(partnum: i32) -> String;
        /// The GPT disk GUID (`part_get_disk_guid`).
        part_get_disk_guid() -> String;
        /// GPT attribute bits (`part_get_gpt_attributes`).
        part_get_gpt_attributes(partnum: i32) -> i64;
        /// The bootable flag (`part_get_bootable`).
        part_get_bootable(partnum: i32) -> bool;
        /// An MBR partition id (`part_get_mbr_id`).
        part_get_mbr_id(partnum: i32) -> i32;
        /// `primary`, `extended` or `logical` (`part_get_mbr_part_type`).
        part_get_mbr_part_type(partnum: i32) -> String;
    }

    /// The drive a partition is on (`part_to_dev`).
    pub fn part_to_dev(&self, partition: &str) -> Result<String> {
        Ok(vmcraft_part::part_to_dev(partition)?)
    }

    /// A partition's number (`part_to_partnum`).
    pub fn part_to_partnum(&self, partition: &str) -> Result<i32> {
        Ok(vmcraft_part::part_to_partnum(partition)?)
    }
}
