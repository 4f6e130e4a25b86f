//! Windows drive letters (`inspect_get_drive_mappings`): the blobs of
//! `HKLM\SYSTEM\MountedDevices` mapped onto the session's partitions, as
//! libguestfs maps them. A 12-byte blob is an MBR disk's signature (the 4
//! bytes at 0x1B8) and the partition's byte offset (little-endian); a
//! `DMIO:ID:` blob carries a GPT partition's unique GUID (the first three
//! fields little-endian, the last eight bytes as they are). A letter whose
//! disk or partition is not among the session's drives is left out.

use crate::session::VMCraft;

/// A GPT blob's GUID as `part_get_gpt_guid` spells it (upper case).
fn gpt_blob_guid(blob: &[u8]) -> Option<String> {
    let g = blob.strip_prefix(b"DMIO:ID:")?.get(..16)?;
    let d1 = u32::from_le_bytes(g[0..4].try_into().ok()?);
    let d2 = u16::from_le_bytes(g[4..6].try_into().ok()?);
    let d3 = u16::from_le_bytes(g[6..8].try_into().ok()?);
    let d4: String = g[8..10].iter().map(|b| format!("{b:02X}")).collect();
    let d5: String = g[10..16].iter().map(|b| format!("{b:02X}")).collect();
    Some(format!("{d1:08X}-{d2:04X}-{d3:04X}-{d4}-{d5}"))
}

impl VMCraft {
    /// `(letter, device)` for each `MountedDevices` blob (at most one per
    /// letter, in registry order) that names one of the session's partitions.
    /// The partitions' GPT GUIDs and the MBR disks' signatures are read once.
    pub(crate) fn drive_mappings(&self, blobs: &[(String, Vec<u8>)]) -> Vec<(String, String)> {
        const CALL: &str = "inspect_get_drive_mappings";
        let drives = self.list_devices().unwrap_or_default();
        // (drive, its table type, its MBR signature) once.
        let tables: Vec<(String, Option<String>, [u8; 4])> = drives
            .iter()
            .map(|d| {
                self.with_drive(CALL, d, |dev| {
                    let t = vmcraft_part::part_get_parttype(dev).ok();
                    let mut sig = [0u8; 4];
                    if t.as_deref() == Some("msdos") {
                        dev.read_at(&mut sig, 0x1B8)?;
                    }
                    Ok((d.clone(), t, sig))
                })
                .unwrap_or_else(|_| (d.clone(), None, [0; 4]))
            })
            .collect();
        // GPT partition GUID -> partition, once, and only if a blob asks.
        let mut guids: Option<Vec<(String, String)>> = None;
        let mut out = Vec::new();
        for (letter, blob) in blobs {
            let device = if blob.starts_with(b"DMIO:ID:") && blob.len() >= 24 {
                let Some(want) = gpt_blob_guid(blob) else {
                    continue;
                };
                let guids = guids.get_or_insert_with(|| {
                    let mut v = Vec::new();
                    for (d, t, _) in &tables {
                        if t.as_deref() != Some("gpt") {
                            continue;
                        }
                        let parts = self
                            .with_drive(CALL, d, |dev| Ok(vmcraft_part::part_list(dev)?))
                            .unwrap_or_default();
                        for p in parts {
                            if let Ok(g) = self.with_drive(CALL, d, |dev| {
                                Ok(vmcraft_part::part_get_gpt_guid(dev, p.part_num)?)
                            }) {
                                v.push((g, format!("{d}{}", p.part_num)));
                            }
                        }
                    }
                    v
                });
                guids
                    .iter()
                    .find(|(g, _)| g.eq_ignore_ascii_case(&want))
                    .map(|(_, dev)| dev.clone())
            } else if blob.len() == 12 {
                // As libguestfs: the first MBR disk with the signature, and
                // on it the partition at the offset (or nothing).
                let offset = u64::from_le_bytes(blob[4..12].try_into().expect("8 bytes"));
                tables
                    .iter()
                    .find(|(_, t, sig)| t.as_deref() == Some("msdos") && sig[..] == blob[..4])
                    .and_then(|(d, _, _)| {
                        self.with_drive(CALL, d, |dev| {
                            Ok(vmcraft_part::part_list(dev)?
                                .iter()
                                .find(|p| p.part_start == offset)
                                .map(|p| format!("{d}{}", p.part_num)))
                        })
                        .ok()
                        .flatten()
                    })
            } else {
                None
            };
            if let Some(device) = device {
                out.push((letter.clone(), device));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt_blobs_spell_the_guid_as_sgdisk() {
        // GUID 01234567-89AB-CDEF-0123-456789ABCDEF as Windows stores it.
        let mut blob = b"DMIO:ID:".to_vec();
        blob.extend_from_slice(&[
            0x67, 0x45, 0x23, 0x01, 0xAB, 0x89, 0xEF, 0xCD, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB,
            0xCD, 0xEF,
        ]);
        assert_eq!(
            gpt_blob_guid(&blob).as_deref(),
            Some("01234567-89AB-CDEF-0123-456789ABCDEF")
        );
        assert_eq!(gpt_blob_guid(b"DMIO:ID:short"), None);
    }
}
