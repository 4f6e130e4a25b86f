//! Windows inspection from the registry, on phony guests made in the test
//! (see `windows_support`): Windows 7 (32-bit, MBR), 10 (MBR), Server 2019
//! (GPT) and 11 (GPT, whose registry still says "Windows 10"). Each inspects to
//! what libguestfs documents: product name, version, variant, build, hostname
//! from the current control set, architecture from cmd.exe, the hive paths,
//! the control set, the drive letters (mapped through the MBR signature and
//! offset or the GPT partition GUID; a letter of a disk the session does not
//! have left out), the osinfo ID and the applications of both `Uninstall` keys.
//! The in-process session and the kernel-mounted one (ntfs-3g) answer alike,
//! and the image is unchanged.

mod windows_support;

use vmcraft::{Config, DriveOpts, InspectInfo, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};
use windows_support::{VERSIONS, make_guest};

fn inspect(
    env: &TestEnv,
    img: &std::path::Path,
    inprocess: bool,
) -> (InspectInfo, String, Vec<vmcraft::inspect::Application2>) {
    let g = VMCraft::with_config(
        Config::builder()
            .tmpdir(env.path())
            .inprocess_reads(inprocess)
            .build(),
    );
    g.add_drive_opts(
        img,
        DriveOpts {
            readonly: true,
            ..Default::default()
        },
    )
    .unwrap();
    g.launch().unwrap();
    assert_eq!(g.inspect_os().unwrap(), ["/dev/sda1"]);
    let info = g.inspect_info("/dev/sda1").unwrap();
    let osinfo = g.inspect_get_osinfo("/dev/sda1").unwrap();
    g.mount_ro("/dev/sda1", "/").unwrap();
    let apps = g.inspect_list_applications2("/dev/sda1").unwrap();
    g.shutdown().unwrap();
    (info, osinfo, apps)
}

#[test]
fn windows_guests_inspect_from_their_registry() {
    if !require_root("ntfs-3g to make the guests")
        || !require_tool("mkntfs")
        || !require_tool("ntfs-3g")
        || !require_tool("sgdisk")
        || !vmcraft_hivex::testing::require_hivex_tools("windows inspection")
    {
        return;
    }
    let env = TestEnv::new("inspect-win");
    for v in &VERSIONS {
        let img = make_guest(&env, v);
        let before = std::fs::read(&img).unwrap();
        let (info, osinfo, apps) = inspect(&env, &img, true);
        let t = v.tag;
        assert_eq!(info.os_type, "windows", "{t}");
        assert_eq!(info.distro, "windows", "{t}");
        assert_eq!(info.product_name, v.product_name, "{t}");
        assert_eq!(
            (info.major_version, info.minor_version),
            (v.major, v.minor),
            "{t}"
        );
        assert_eq!(info.product_variant, v.variant, "{t}");
        assert_eq!(info.build_id, v.build, "{t}");
        assert_eq!(info.hostname, v.hostname, "{t}");
        assert_eq!(info.arch, v.arch, "{t}");
        assert_eq!(info.windows_systemroot.as_deref(), Some("/Windows"), "{t}");
        assert_eq!(
            info.windows_software_hive.as_deref(),
            Some("/Windows/System32/config/SOFTWARE"),
            "{t}"
        );
        assert_eq!(
            info.windows_system_hive.as_deref(),
            Some("/Windows/System32/config/SYSTEM"),
            "{t}"
        );
        assert_eq!(
            info.windows_current_control_set.as_deref(),
            Some("ControlSet001"),
            "{t}"
        );
        assert_eq!(
            info.drive_mappings,
            [("C".to_string(), "/dev/sda1".to_string())],
            "{t}"
        );
        assert_eq!(osinfo, v.osinfo, "{t}");
        let names: Vec<(&str, &str, &str)> = apps
            .iter()
            .map(|a| {
                (
                    a.app2_name.as_str(),
                    a.app2_display_name.as_str(),
                    a.app2_version.as_str(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("7-Zip", "7-Zip 23.01 (x64)", "23.01"),
                (
                    "{90160000-0011-0000-0000-0000000FF1CE}",
                    "Microsoft Office Professional Plus 2016",
                    "16.0.4266.1001"
                ),
            ],
            "{t}"
        );
        assert_eq!(apps[0].app2_publisher, "Igor Pavlov");
        assert_eq!(apps[0].app2_install_path, "C:\\Program Files\\7-Zip\\");
        assert_eq!(apps[0].app2_url, "https://www.7-zip.org/");
        assert_eq!(apps[1].app2_description, "Office");

        // The kernel path (ntfs-3g) answers the same.
        let (kinfo, kosinfo, kapps) = inspect(&env, &img, false);
        assert_eq!(kinfo, info, "{t}: kernel path");
        assert_eq!((kosinfo, kapps), (osinfo, apps), "{t}: kernel path");
        assert!(std::fs::read(&img).unwrap() == before, "{t}: image changed");
    }
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn a_windows_root_without_a_readable_registry_says_unknown() {
    if !require_root("ntfs-3g to make the guest")
        || !require_tool("mkntfs")
        || !require_tool("ntfs-3g")
        || !vmcraft_hivex::testing::require_hivex_tools("windows inspection")
    {
        return;
    }
    let env = TestEnv::new("inspect-win-bad");
    let v = &VERSIONS[1];
    let img = make_guest(&env, v);
    // Wreck both hives' base blocks on the disk: inspection still finds the
    // root, and says unknown for everything the registry would have said.
    let bytes = std::fs::read(&img).unwrap();
    let mut wrecked = bytes.clone();
    let mut n = 0;
    let mut at = 0;
    while let Some(i) = wrecked[at..].windows(4).position(|w| w == b"regf") {
        let off = at + i;
        wrecked[off..off + 512].fill(0x5A);
        at = off + 512;
        n += 1;
    }
    assert_eq!(n, 2, "both hives found on the disk");
    std::fs::write(&img, &wrecked).unwrap();
    let (info, osinfo, apps) = inspect(&env, &img, true);
    assert_eq!(info.os_type, "windows");
    assert_eq!(info.product_name, "unknown");
    assert_eq!(info.hostname, "unknown");
    assert_eq!(info.product_variant, "unknown");
    assert_eq!(info.build_id, "unknown");
    assert_eq!((info.major_version, info.minor_version), (0, 0));
    assert!(info.drive_mappings.is_empty());
    assert_eq!(info.windows_current_control_set, None);
    assert_eq!(info.arch, "x86_64");
    assert_eq!(osinfo, "unknown");
    assert!(apps.is_empty());
    assert_eq!(std::fs::read(&img).unwrap(), wrecked, "image changed");
}

#[test]
fn a_conversion_registers_a_virtio_boot_driver() {
    if !require_root("ntfs-3g to make the guest and mount it read-write")
        || !require_tool("mkntfs")
        || !require_tool("ntfs-3g")
        || !vmcraft_hivex::testing::require_hivex_tools("windows driver service")
    {
        return;
    }
    use vmcraft::calls::windows_drivers::DriverService;
    let env = TestEnv::new("win-viostor");
    let v = &VERSIONS[1];
    let img = make_guest(&env, v);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    let roots = g.inspect_os().unwrap();
    // Refused before anything is touched: not mounted, not Windows.
    assert!(
        g.windows_add_driver_service("/dev/sda1", &DriverService::viostor())
            .is_err()
    );
    assert!(
        g.windows_add_driver_service("/dev/sdz1", &DriverService::viostor())
            .is_err()
    );
    g.mount("/dev/sda1", "/").unwrap();
    let bad = DriverService {
        name: "a\\b".into(),
        ..DriverService::viostor()
    };
    assert!(g.windows_add_driver_service(&roots[0], &bad).is_err());
    // Twice: the second finds the keys and updates them.
    for _ in 0..2 {
        g.windows_add_driver_service(&roots[0], &DriverService::viostor())
            .unwrap();
    }
    g.windows_add_driver_service(&roots[0], &DriverService::vioscsi())
        .unwrap();
    let hive = env.path().join("SYSTEM.out");
    g.download("/Windows/System32/config/SYSTEM", &hive)
        .unwrap();
    g.shutdown().unwrap();

    // hivexget as the oracle.
    let get = |key: &str, name: &str| {
        vmcraft_hivex::testing::hivexget(&hive, key, Some(name))
            .unwrap()
            .trim()
            .to_string()
    };
    let svc = "ControlSet001\\Services\\viostor";
    assert_eq!(get(svc, "Start"), "0");
    assert_eq!(get(svc, "Type"), "1");
    assert_eq!(get(svc, "ErrorControl"), "1");
    assert_eq!(get(svc, "ImagePath"), "system32\\drivers\\viostor.sys");
    assert_eq!(get(svc, "Group"), "SCSI miniport");
    assert_eq!(
        get("ControlSet001\\Services\\vioscsi", "ImagePath"),
        "system32\\drivers\\vioscsi.sys"
    );
    let cddb = "ControlSet001\\Control\\CriticalDeviceDatabase\\pci#ven_1af4&dev_1001&subsys_00021af4&rev_00";
    assert_eq!(get(cddb, "Service"), "viostor");
    assert_eq!(
        get(cddb, "ClassGUID"),
        "{4D36E97B-E325-11CE-BFC1-08002BE10318}"
    );
    // What was there stays.
    assert_eq!(
        get("ControlSet001\\Services\\Tcpip\\Parameters", "Hostname"),
        v.hostname
    );
    // A guest session reads it back the same.
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive_ro(&img).unwrap();
    g.launch().unwrap();
    g.inspect_os().unwrap();
    assert_eq!(g.inspect_get_hostname("/dev/sda1").unwrap(), v.hostname);
    drop(g);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
