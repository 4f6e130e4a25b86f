//! Phony Windows guests, made as libguestfs's test suite makes its Windows
//! image: an NTFS filesystem (mkntfs, filled through ntfs-3g) holding
//! `Windows/System32/config/SOFTWARE` and `SYSTEM` hives built from `.reg`
//! text (a blank hive from the regf layout, then `hivexregedit --merge`) and a
//! `cmd.exe` whose PE header gives the architecture, in the first partition of
//! an MBR disk (with a disk signature) or a GPT disk (with a partition GUID),
//! whose `MountedDevices` blob names that partition as `C:`.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use vmcraft_block::testing::TestEnv;

/// One phony Windows version.
pub struct Version {
    /// A short name for files.
    pub tag: &'static str,
    /// `ProductName`.
    pub product_name: &'static str,
    /// `CurrentMajorVersionNumber`/`CurrentMinorVersionNumber` (Windows 10
    /// and later), else `CurrentVersion` "major.minor".
    pub major: i32,
    /// See `major`.
    pub minor: i32,
    /// `InstallationType`.
    pub variant: &'static str,
    /// `CurrentBuildNumber`.
    pub build: &'static str,
    /// `x86_64` or `i386` (cmd.exe's PE machine).
    pub arch: &'static str,
    /// The hostname in `Tcpip\Parameters`.
    pub hostname: &'static str,
    /// A GPT disk (else MBR).
    pub gpt: bool,
    /// What libguestfs's `inspect_get_osinfo` answers.
    pub osinfo: &'static str,
}

/// Windows 7, 10, Server 2019 and 11.
pub const VERSIONS: [Version; 4] = [
    Version {
        tag: "win7",
        product_name: "Windows 7 Ultimate",
        major: 6,
        minor: 1,
        variant: "Client",
        build: "7601",
        arch: "i386",
        hostname: "WIN7-PC",
        gpt: false,
        osinfo: "win7",
    },
    Version {
        tag: "win10",
        product_name: "Windows 10 Pro",
        major: 10,
        minor: 0,
        variant: "Client",
        build: "19045",
        arch: "x86_64",
        hostname: "DESKTOP-10",
        gpt: false,
        osinfo: "win10",
    },
    Version {
        tag: "win2k19",
        product_name: "Windows Server 2019 Standard",
        major: 10,
        minor: 0,
        variant: "Server",
        build: "17763",
        arch: "x86_64",
        hostname: "SRV2019",
        gpt: true,
        osinfo: "win2k19",
    },
    Version {
        // Windows 11's registry still says "Windows 10": only the build tells.
        tag: "win11",
        product_name: "Windows 10 Pro",
        major: 10,
        minor: 0,
        variant: "Client",
        build: "22631",
        arch: "x86_64",
        hostname: "DESKTOP-11",
        gpt: true,
        osinfo: "win11",
    },
];

/// The MBR disk signature of the MBR guests.
pub const DISK_SIGNATURE: u32 = 0x1234_5678;
/// The partition GUID of the GPT guests' Windows partition.
pub const PART_GUID: &str = "01234567-89AB-CDEF-0123-456789ABCDEF";

pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pe(arch: &str) -> Vec<u8> {
    // The DOS stub's pointer, the PE signature, a COFF header and the start
    // of an optional header with a console subsystem: enough for file(1) to
    // say "PE32+ executable (console) x86-64" (or "PE32 ... Intel 80386"),
    // which is what libguestfs reads the architecture from.
    let mut img = vec![0u8; 0x400];
    img[..2].copy_from_slice(b"MZ");
    img[0x3C..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    img[0x80..0x84].copy_from_slice(b"PE\0\0");
    let (machine, magic, characteristics): (u16, u16, u16) = if arch == "i386" {
        (0x014C, 0x10B, 0x0102)
    } else {
        (0x8664, 0x20B, 0x0022)
    };
    img[0x84..0x86].copy_from_slice(&machine.to_le_bytes());
    // No sections, no symbols; the optional header's size and the flags.
    img[0x94..0x96].copy_from_slice(&0xF0u16.to_le_bytes());
    img[0x96..0x98].copy_from_slice(&characteristics.to_le_bytes());
    img[0x98..0x9A].copy_from_slice(&magic.to_le_bytes());
    // Subsystem 3: Windows console.
    img[0x98 + 68..0x98 + 70].copy_from_slice(&3u16.to_le_bytes());
    img
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The `MountedDevices` blob for `C:`.
fn c_blob(v: &Version) -> Vec<u8> {
    if v.gpt {
        let g: Vec<u8> = PART_GUID
            .split('-')
            .flat_map(|p| {
                (0..p.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&p[i..i + 2], 16).unwrap())
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut b = b"DMIO:ID:".to_vec();
        // The first three fields little-endian, the rest as written.
        b.extend(g[0..4].iter().rev());
        b.extend(g[4..6].iter().rev());
        b.extend(g[6..8].iter().rev());
        b.extend(&g[8..16]);
        b
    } else {
        let mut b = DISK_SIGNATURE.to_le_bytes().to_vec();
        b.extend((1u64 << 20).to_le_bytes());
        b
    }
}

fn software_reg(v: &Version) -> String {
    let version = if v.major >= 10 {
        format!(
            "\"CurrentMajorVersionNumber\"=dword:{:08x}\n\"CurrentMinorVersionNumber\"=dword:{:08x}\n\"CurrentVersion\"=\"6.3\"\n",
            v.major, v.minor
        )
    } else {
        format!("\"CurrentVersion\"=\"{}.{}\"\n", v.major, v.minor)
    };
    format!(
        "Windows Registry Editor Version 5.00\n\n\
         [HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]\n\
         \"ProductName\"=\"{}\"\n{version}\"InstallationType\"=\"{}\"\n\"CurrentBuildNumber\"=\"{}\"\n\"CurrentBuild\"=\"1.511.1 () (Obsolete data - do not use)\"\n\n\
         [HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\7-Zip]\n\
         \"DisplayName\"=\"7-Zip 23.01 (x64)\"\n\"DisplayVersion\"=\"23.01\"\n\"Publisher\"=\"Igor Pavlov\"\n\
         \"InstallLocation\"=\"C:\\\\Program Files\\\\7-Zip\\\\\"\n\"URLInfoAbout\"=\"https://www.7-zip.org/\"\n\n\
         [HKEY_LOCAL_MACHINE\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{{90160000-0011-0000-0000-0000000FF1CE}}]\n\
         \"DisplayName\"=\"Microsoft Office Professional Plus 2016\"\n\"DisplayVersion\"=\"16.0.4266.1001\"\n\"Publisher\"=\"Microsoft Corporation\"\n\"Comments\"=\"Office\"\n\n",
        v.product_name, v.variant, v.build
    )
}

fn system_reg(v: &Version) -> String {
    format!(
        "Windows Registry Editor Version 5.00\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\n\"Current\"=dword:00000001\n\"Default\"=dword:00000001\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\Tcpip\\Parameters]\n\"Hostname\"=\"{}\"\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet002\\Services\\Tcpip\\Parameters]\n\"Hostname\"=\"STALE\"\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\MountedDevices]\n\"\\\\DosDevices\\\\C:\"=hex:{}\n\"\\\\DosDevices\\\\Z:\"=hex:{}\n\n",
        v.hostname,
        hex(&c_blob(v)),
        // A letter for a disk the session does not have.
        hex(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0x10, 0, 0, 0, 0, 0])
    )
}

/// Make the guest disk of `v` in `env`; returns the raw image.
pub fn make_guest(env: &TestEnv, v: &Version) -> PathBuf {
    let dir = env.path().join(v.tag);
    std::fs::create_dir_all(&dir).unwrap();
    let software = dir.join("SOFTWARE");
    let system = dir.join("SYSTEM");
    vmcraft_hivex::testing::make_hive(&software, "HKEY_LOCAL_MACHINE\\SOFTWARE", &software_reg(v))
        .unwrap();
    vmcraft_hivex::testing::make_hive(&system, "HKEY_LOCAL_MACHINE\\SYSTEM", &system_reg(v))
        .unwrap();

    let fs = dir.join("ntfs.img");
    std::fs::File::create(&fs)
        .unwrap()
        .set_len(48 << 20)
        .unwrap();
    run(Command::new("mkntfs").args(["-Q", "-F", "-q"]).arg(&fs));
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    run(Command::new("ntfs-3g").arg(&fs).arg(&mnt));
    let populate = || -> std::io::Result<()> {
        let sys32 = mnt.join("Windows/System32");
        std::fs::create_dir_all(sys32.join("config"))?;
        std::fs::create_dir_all(mnt.join("Program Files/7-Zip"))?;
        std::fs::copy(&software, sys32.join("config/SOFTWARE"))?;
        std::fs::copy(&system, sys32.join("config/SYSTEM"))?;
        std::fs::write(sys32.join("cmd.exe"), pe(v.arch))?;
        std::fs::write(mnt.join("pagefile.sys"), b"")?;
        Ok(())
    };
    let r = populate();
    run(Command::new("umount").arg(&mnt));
    r.unwrap();

    let disk = dir.join(format!("{}.img", v.tag));
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(50 << 20)
        .unwrap();
    if v.gpt {
        run(Command::new("sgdisk")
            .args(["-n1:2048:+48M", "-t1:0700", &format!("-u1:{PART_GUID}")])
            .arg(&disk));
    } else {
        let mut c = Command::new("sfdisk");
        c.arg("-q").arg(&disk).stdin(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(
                format!(
                    "label: dos\nlabel-id: 0x{DISK_SIGNATURE:08x}\nstart=2048, size=48MiB, type=7\n"
                )
                .as_bytes(),
            )
            .unwrap();
        assert!(child.wait().unwrap().success());
    }
    run(Command::new("dd")
        .arg(format!("if={}", fs.display()))
        .arg(format!("of={}", disk.display()))
        .args(["bs=1M", "seek=1", "conv=notrunc,sparse", "status=none"]));
    disk
}
