//! Tool tests (tier 2): an edit writes what it says and nothing else. Tables
//! made by sgdisk and sfdisk (or forged where no tool makes them) are edited
//! through this crate on image files, and every byte the edit had no business
//! changing is compared before and after: a boot loader in the sectors a moved
//! GPT entry array left free, the entries nobody edited, the bytes past a GPT
//! header. `sgdisk -v` and `sfdisk --json` judge the result. An msdos table
//! whose logical partitions or extended boot records lie past what 32 bits
//! address is refused as corrupt, with nothing written.

mod common;

use std::path::Path;

use common::*;
use vmcraft_block::ImageFile;
use vmcraft_block::testing::{TestEnv, require_tool};
use vmcraft_part::*;

const MIB: u64 = 1 << 20;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn bytes(img: &Path) -> Vec<u8> {
    std::fs::read(img).unwrap()
}

fn put(img: &Path, off: u64, data: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(img).unwrap();
    f.write_all_at(data, off).unwrap();
}

fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().unwrap())
}

fn sector(b: &[u8], lba: u64) -> &[u8] {
    &b[lba as usize * 512..(lba as usize + 1) * 512]
}

fn sectors(b: &[u8], lba: u64, n: u64) -> &[u8] {
    &b[lba as usize * 512..(lba + n) as usize * 512]
}

/// Recompute the entry-array CRC and the header CRC of the GPT header at `lba`
/// (128 entries of 128 bytes).
fn fix_crcs(img: &Path, lba: u64) {
    let b = bytes(img);
    let h = sector(&b, lba);
    let array = le64(&h[72..80]);
    let crc = crc32fast::hash(sectors(&b, array, 32));
    let mut h = h[..92].to_vec();
    h[88..92].copy_from_slice(&crc.to_le_bytes());
    h[16..20].fill(0);
    let hcrc = crc32fast::hash(&h);
    h[16..20].copy_from_slice(&hcrc.to_le_bytes());
    put(img, lba * 512, &h);
}

/// A 512-byte "boot loader" sector that no table tool would write.
fn pattern(lba: u64) -> Vec<u8> {
    (0..512u64).map(|i| (i * 7 + lba * 13 + 1) as u8).collect()
}

/// Sectors `lba..lba+n` filled with [`pattern`].
fn fill_pattern(img: &Path, lba: u64, n: u64) {
    for l in lba..lba + n {
        put(img, l * 512, &pattern(l));
    }
}

/// A GPT laid out with `sgdisk -j 34`: the primary entry array at LBA 34..65 and
/// a "boot loader" in LBA 2..33 where arrays usually are; the backup array moved
/// down 8 sectors (forged, with both headers' last usable LBA lowered to match),
/// with a "boot loader" in the 8 sectors between it and the backup header.
/// Every edit keeps both arrays where their headers put them, and changes no
/// byte outside the headers and the arrays.
#[test]
fn gpt_edits_keep_the_entry_arrays_where_the_headers_put_them() {
    if !oracles() {
        return;
    }
    let env = TestEnv::new("part-fidelity-array");
    let (img, _) = image(&env, "moved.img", 64 * MIB);
    let last = 64 * MIB / 512 - 1; // 131071: the backup header
    run_ok(&[
        "sgdisk",
        "-o",
        "-j",
        "34",
        "-n",
        "1:2048:4095",
        "-c",
        "1:esp",
        "-n",
        "2:4096:8191",
        s(&img),
    ]);
    // Move the backup array from 131039 down to 131031; last usable 131030.
    let b = bytes(&img);
    let array = sectors(&b, last - 32, 32).to_vec();
    put(&img, (last - 40) * 512, &array);
    for lba in [1, last] {
        put(&img, lba * 512 + 48, &(last - 41).to_le_bytes());
    }
    put(&img, last * 512 + 72, &(last - 40).to_le_bytes());
    fix_crcs(&img, 1);
    fix_crcs(&img, last);
    fill_pattern(&img, 2, 32);
    fill_pattern(&img, last - 8, 8);
    sgdisk_verify(&img);

    let dev = ImageFile::open(&img, false).unwrap();
    let mut before = bytes(&img);
    type Edit<'a> = &'a dyn Fn(&ImageFile) -> Result<()>;
    let edits: [(&str, Edit<'_>); 5] = [
        ("part_add", &|d| part_add(d, "p", 8192, 16383)),
        ("part_set_name", &|d| part_set_name(d, 3, "data")),
        ("part_del", &|d| part_del(d, 2)),
        ("part_resize", &|d| part_resize(d, 1, 6000)),
        ("part_set_disk_guid", &|d| {
            part_set_disk_guid(d, "01234567-89AB-CDEF-0123-456789ABCDEF")
        }),
    ];
    for (what, edit) in edits {
        edit(&dev).unwrap_or_else(|e| panic!("{what}: {e}"));
        sgdisk_verify(&img);
        let after = bytes(&img);
        let primary = sector(&after, 1);
        let backup = sector(&after, last);
        assert_eq!(le64(&primary[72..80]), 34, "{what}: primary entry LBA");
        assert_eq!(le64(&backup[72..80]), last - 40, "{what}: backup entry LBA");
        assert_eq!(le64(&primary[48..56]), last - 41, "{what}: last usable");
        assert_eq!(
            sectors(&after, 34, 32),
            sectors(&after, last - 40, 32),
            "{what}: the two arrays agree"
        );
        for lba in (2..34).chain(last - 8..last) {
            assert_eq!(sector(&after, lba), &pattern(lba)[..], "{what}: LBA {lba}");
        }
        // Nothing but the headers and the arrays changed.
        let table: Vec<u64> = [1, last]
            .into_iter()
            .chain(34..66)
            .chain(last - 40..last - 8)
            .collect();
        for lba in 0..=last {
            if !table.contains(&lba) {
                assert!(
                    sector(&after, lba) == sector(&before, lba),
                    "{what}: LBA {lba} changed"
                );
            }
        }
        before = after;
    }
    let parts = sfdisk_parts(&img);
    let got: Vec<(u32, u64, u64)> = parts.iter().map(|p| (p.0, p.1, p.2)).collect();
    assert_eq!(got, [(1, 2048, 6000 - 2048 + 1), (3, 8192, 8192)]);
}

/// Byte `unit` of a name as UTF-16LE at `at` in `entry`.
fn put_units(entry: &mut [u8], units: &[u16]) {
    for (i, u) in units.iter().enumerate() {
        entry[56 + 2 * i..58 + 2 * i].copy_from_slice(&u.to_le_bytes());
    }
}

/// Names no string round-trips (a lone surrogate, units after the terminating
/// NUL), an unused entry with stale bytes in it, and bytes past byte 92 of both
/// header sectors: an edit of another entry leaves the entries byte-identical,
/// and zeroes the header sectors' tails (as the UEFI specification requires).
#[test]
fn gpt_entries_nobody_edited_stay_byte_identical() {
    if !oracles() {
        return;
    }
    let env = TestEnv::new("part-fidelity-entries");
    let (img, _) = image(&env, "names.img", 64 * MIB);
    let last = 64 * MIB / 512 - 1;
    run_ok(&[
        "sgdisk",
        "-o",
        "-n",
        "1:2048:4095",
        "-c",
        "1:one",
        "-n",
        "2:4096:8191",
        "-c",
        "2:two",
        "-n",
        "3:8192:16383",
        "-c",
        "3:three",
        s(&img),
    ]);
    let b = bytes(&img);
    let mut array = sectors(&b, 2, 32).to_vec();
    // Entry 1: "o", a lone high surrogate, "e".
    put_units(&mut array[..128], &[0x6f, 0xd800, 0x65]);
    // Entry 2: "two", NUL, then "XY" left over from an older name.
    put_units(&mut array[128..256], &[0x74, 0x77, 0x6f, 0, 0x58, 0x59]);
    // Entry 6: unused (zero type GUID) but with a stale GUID, range and name.
    let stale = &mut array[5 * 128..6 * 128];
    stale[16..32].fill(0x5a);
    stale[32..40].copy_from_slice(&100_000u64.to_le_bytes());
    stale[40..48].copy_from_slice(&100_999u64.to_le_bytes());
    put_units(stale, &[0x6f, 0x6c, 0x64]);
    put(&img, 2 * 512, &array);
    put(&img, (last - 32) * 512, &array);
    for lba in [1, last] {
        put(&img, lba * 512 + 92, &[0xa5; 420]);
        fix_crcs(&img, lba);
    }
    sgdisk_verify(&img);
    let before = bytes(&img);

    let dev = ImageFile::open(&img, false).unwrap();
    part_set_name(&dev, 3, "edited").unwrap();
    assert_eq!(part_get_name(&dev, 1).unwrap(), "o\u{fffd}e");
    assert_eq!(part_get_name(&dev, 2).unwrap(), "two");
    sgdisk_verify(&img);
    let after = bytes(&img);
    for array in [2, last - 32] {
        let (was, now) = (sectors(&before, array, 32), sectors(&after, array, 32));
        for n in (0..128).filter(|&n| n != 2) {
            assert!(
                was[n * 128..(n + 1) * 128] == now[n * 128..(n + 1) * 128],
                "entry {} of the array at LBA {array} changed",
                n + 1
            );
        }
        assert_eq!(
            &now[2 * 128 + 56..2 * 128 + 68],
            "edited"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect::<Vec<_>>()
                .as_slice()
        );
        assert!(now[2 * 128 + 68..3 * 128].iter().all(|&b| b == 0));
    }
    for lba in [1, last] {
        assert!(
            sector(&after, lba)[92..].iter().all(|&b| b == 0),
            "the header sector at LBA {lba} is not zero past byte 92"
        );
    }
    let out = run_ok(&["sgdisk", "-i", "3", s(&img)]);
    assert!(
        out.stdout_str().contains("Partition name: 'edited'"),
        "{}",
        out.stdout_str()
    );
}

/// `part_add` on a GPT names the partition `primary`, as libguestfs (parted's
/// `mkpart primary`) does; `part_disk` names it `p1`.
#[test]
fn gpt_part_add_names_the_partition_primary() {
    if !oracles() {
        return;
    }
    let env = TestEnv::new("part-fidelity-name");
    let (img, dev) = image(&env, "name.img", 64 * MIB);
    part_init(&dev, "gpt").unwrap();
    part_add(&dev, "p", 2048, 4095).unwrap();
    part_add(&dev, "primary", 4096, -1).unwrap();
    assert_eq!(part_get_name(&dev, 1).unwrap(), "primary");
    assert_eq!(part_get_name(&dev, 2).unwrap(), "primary");
    sgdisk_verify(&img);
    let t = sfdisk_json(&img);
    for p in t["partitions"].as_array().unwrap() {
        assert_eq!(p["name"], "primary", "{p}");
    }
    let (_, lines) = parted_print(&img, "s");
    for l in &lines {
        assert_eq!(l.split(':').nth(5), Some("primary"), "{l}");
    }
    part_disk(&dev, "gpt").unwrap();
    assert_eq!(part_get_name(&dev, 1).unwrap(), "p1");
}

/// An entry of a forged MBR or EBR.
fn mbr_entry(id: u8, start: u32, sectors: u32) -> [u8; 16] {
    let mut e = [0u8; 16];
    e[4] = id;
    e[8..12].copy_from_slice(&start.to_le_bytes());
    e[12..16].copy_from_slice(&sectors.to_le_bytes());
    e
}

/// A 3 TiB msdos disk whose extended partition (2048, 2^32 - 1 sectors) ends
/// past sector 2^32, with a logical partition there: `sfdisk --json` reads it
/// past 2^32, and this crate, which keeps msdos positions in 32 bits, refuses
/// the table as corrupt (a listing and an edit alike) and writes nothing. The
/// same for an extended boot record linked past 2^32.
#[test]
fn msdos_positions_past_2_32_sectors_are_corrupt() {
    if !oracles() || !require_tool("sfdisk") {
        return;
    }
    let env = TestEnv::new("part-fidelity-2tib");
    let ext_end = 2048 + u64::from(u32::MAX) - 1; // 4294969342
    type Forge = fn(&Path);
    let cases: [(&str, Forge, u64, &str); 2] = [
        (
            "logical",
            |img| {
                // The first EBR's own entry: 4294967040 sectors in, 200 long.
                put(img, 2048 * 512 + 446, &mbr_entry(0x83, 0xffff_ff00, 200));
            },
            4_294_969_088,
            "partition 5 (sectors 4294969088..4294969287) lies past sector 4294967295, the last an msdos table can address",
        ),
        (
            "ebr",
            |img| {
                // A logical partition at 4096, then an EBR linked past 2^32.
                put(img, 2048 * 512 + 446, &mbr_entry(0x83, 2048, 2048));
                put(img, 2048 * 512 + 462, &mbr_entry(0x05, 0xffff_fe00, 200));
                let ebr = 2048 + 0xffff_fe00u64;
                put(img, ebr * 512 + 446, &mbr_entry(0x83, 1, 100));
                put(img, ebr * 512 + 510, &[0x55, 0xaa]);
            },
            4_294_968_833,
            "the extended boot record at sector 4294968832 lies past sector 4294967295, the last an msdos table can address",
        ),
    ];
    for (what, forge, start, msg) in cases {
        let (img, _) = image(&env, &format!("{what}.img"), 3 << 40);
        put(&img, 446, &mbr_entry(0x05, 2048, u32::MAX));
        put(&img, 510, &[0x55, 0xaa]);
        put(&img, 2048 * 512 + 510, &[0x55, 0xaa]);
        forge(&img);
        // What a real tool reads: the logical partition past 2^32.
        let parts = sfdisk_parts(&img);
        assert_eq!(parts.last().map(|p| p.1), Some(start), "{what}: {parts:?}");
        assert!(start + 99 <= ext_end);

        let dev = ImageFile::open(&img, false).unwrap();
        let hash = sparse_digest(&img);
        let e = part_list(&dev).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt, "{what}: {e}");
        assert_eq!(
            e.to_string(),
            format!("part_list: {}: {msg}", dev_name(&dev))
        );
        let e = part_add(&dev, "l", 10_000, 20_000).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt, "{what}: {e}");
        assert_eq!(
            e.to_string(),
            format!("part_add: {}: {msg}", dev_name(&dev))
        );
        assert_eq!(sparse_digest(&img), hash, "{what}: the image changed");
    }
}

fn dev_name(dev: &ImageFile) -> String {
    use vmcraft_block::BlockDevice;
    dev.name()
}

/// Where a sparse image holds data, and the data: enough to see any write to a
/// 3 TiB image without reading its holes.
fn sparse_digest(img: &Path) -> Vec<(u64, Vec<u8>)> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(img).unwrap();
    let size = f.metadata().unwrap().len() as i64;
    let fd = f.as_raw_fd();
    let mut out = Vec::new();
    let mut at = 0i64;
    while at < size {
        // SAFETY: lseek on a descriptor this function owns.
        let data = unsafe { libc::lseek(fd, at, libc::SEEK_DATA) };
        if data < 0 {
            break;
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd, data, libc::SEEK_HOLE) };
        assert!(
            hole > data && hole - data <= 64 << 20,
            "data {data}..{hole}"
        );
        let mut buf = vec![0u8; (hole - data) as usize];
        f.read_exact_at(&mut buf, data as u64).unwrap();
        out.push((data as u64, buf));
        at = hole;
    }
    out
}
