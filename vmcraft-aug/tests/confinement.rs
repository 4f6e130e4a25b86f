//! Confinement: guest symlinks that point at host files (absolute symlinks, a
//! symlink to `/` inside `/etc`, a directory symlink) are read and saved without
//! any host file's bytes or mtime changing. Each scenario also runs an
//! unconfined control (raugeas with a plain root prefix) showing that the same
//! guest *would* reach the host file, so the tests cannot pass vacuously.

mod common;

use std::path::{Path, PathBuf};

use common::{Guest, Snapshot, need_root};
use vmcraft_aug::{AugFlags, Augeas, ErrorKind};

const SENTINEL: &str = "10.9.8.7 hostsentinel\n";

/// A host directory holding a hosts-format sentinel file; returns its path.
fn host_sentinel(g: &Guest) -> PathBuf {
    let p = g.host_dir().join("hosts");
    std::fs::write(&p, SENTINEL).unwrap();
    p
}

/// raugeas with `root` as a plain prefix: what an unconfined Augeas sees.
fn unconfined(root: &Path) -> raugeas::Augeas {
    raugeas::Augeas::init(Some(root), "", raugeas::Flags::NONE).unwrap()
}

fn values(aug: &Augeas, path: &str) -> Vec<String> {
    aug.aug_match(path)
        .unwrap()
        .iter()
        .filter_map(|n| aug.aug_get(n).ok())
        .collect()
}

/// Read, edit and save through a handle; whatever Augeas does with the guest, it
/// must be inside it.
fn read_edit_save(aug: &Augeas, file: &str) -> Option<vmcraft_aug::Error> {
    let seen = values(aug, &format!("/files{file}//*"));
    assert!(
        !seen.iter().any(|v| v.contains("hostsentinel")),
        "host content visible through {file}: {seen:?}"
    );
    aug.aug_set(&format!("/files{file}/99/ipaddr"), "192.0.2.99")
        .unwrap();
    aug.aug_set(&format!("/files{file}/99/canonical"), "written")
        .unwrap();
    aug.aug_save().err()
}

#[test]
fn absolute_symlink_to_a_host_file_is_resolved_inside_the_guest() {
    if !need_root() {
        return;
    }
    for flags in [
        AugFlags::empty(),
        AugFlags::SAVE_BACKUP,
        AugFlags::SAVE_NEWFILE,
    ] {
        let g = Guest::new("abs-symlink");
        let sentinel = host_sentinel(&g);
        g.symlink("/etc/hosts", &sentinel);
        let host = Snapshot::of(&g.host_dir());

        let aug = Augeas::init(&g.root, flags).unwrap();
        // The link dangles inside the guest: nothing is loaded from it.
        assert!(aug.aug_match("/files/etc/hosts").unwrap().is_empty());
        if let Some(e) = read_edit_save(&aug, "/etc/hosts") {
            panic!("{flags:?}: {e}");
        }
        drop(aug);
        assert_eq!(
            Snapshot::of(&g.host_dir()),
            host,
            "{flags:?}: the host file changed"
        );
        // What was written went to the guest.
        let written = if flags.contains(AugFlags::SAVE_NEWFILE) {
            g.read("/etc/hosts.augnew")
        } else {
            g.read("/etc/hosts")
        };
        assert!(written.contains("written"), "{flags:?}: {written}");

        // Control: unconfined, the very same guest reads and writes the host file.
        let g = Guest::new("abs-symlink-control");
        let sentinel = host_sentinel(&g);
        g.symlink("/etc/hosts", &sentinel);
        let mut raw = unconfined(&g.root);
        assert_eq!(
            raw.get("/files/etc/hosts/1/canonical").unwrap().as_deref(),
            Some("hostsentinel")
        );
        raw.set("/files/etc/hosts/1/canonical", "leaked").unwrap();
        raw.save().unwrap();
        assert!(
            std::fs::read_to_string(&sentinel)
                .unwrap()
                .contains("leaked")
        );
    }
}

#[test]
fn etc_hosts_pointing_at_etc_shadow_uses_the_guests_shadow() {
    if !need_root() {
        return;
    }
    let host_shadow = Path::new("/etc/shadow");
    let host_files = [
        "/etc/shadow",
        "/etc/hosts.augsave",
        "/etc/hosts.augnew",
        "/etc/shadow.augnew",
    ];
    let before: Vec<Option<Snapshot>> = host_files
        .iter()
        .map(|f| Path::new(f).exists().then(|| Snapshot::of(Path::new(f))))
        .collect();
    assert!(
        host_shadow.exists(),
        "the host has an /etc/shadow to protect"
    );

    let g = Guest::new("shadow");
    g.write("/etc/shadow", "192.0.2.7 guestshadow\n");
    g.symlink("/etc/hosts", "/etc/shadow");
    for flags in [AugFlags::empty(), AugFlags::SAVE_BACKUP] {
        let aug = Augeas::init(&g.root, flags).unwrap();
        assert_eq!(
            aug.aug_get("/files/etc/hosts/1/canonical").unwrap(),
            "guestshadow",
            "the guest's own /etc/shadow is read"
        );
        aug.aug_set("/files/etc/hosts/1/alias[last()+1]", "edited")
            .unwrap();
        aug.aug_save().unwrap();
    }
    // The symlink was followed inside the guest, and kept.
    assert_eq!(
        std::fs::read_link(g.path("/etc/hosts")).unwrap(),
        Path::new("/etc/shadow")
    );
    assert_eq!(
        g.read("/etc/shadow"),
        "192.0.2.7 guestshadow edited edited\n"
    );
    assert_eq!(
        g.read("/etc/hosts.augsave"),
        "192.0.2.7 guestshadow edited\n"
    );

    let after: Vec<Option<Snapshot>> = host_files
        .iter()
        .map(|f| Path::new(f).exists().then(|| Snapshot::of(Path::new(f))))
        .collect();
    assert_eq!(before, after, "a host file changed");
}

#[test]
fn a_symlink_to_slash_inside_etc_stays_inside_the_guest() {
    if !need_root() {
        return;
    }
    let g = Guest::new("rootlink");
    let sentinel = host_sentinel(&g);
    g.symlink("/etc/rootlink", "/");
    let through_link = format!("/etc/rootlink{}", sentinel.display());
    let host = Snapshot::of(&g.host_dir());

    // Nothing at that path inside the guest: nothing loads, and the save
    // cannot create the file's missing directories.
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    aug.aug_transform("Hosts", &through_link, false).unwrap();
    aug.aug_load().unwrap();
    assert!(
        aug.aug_match(&format!("/files{through_link}"))
            .unwrap()
            .is_empty()
    );
    let err = read_edit_save(&aug, &through_link).expect("no directory to save into");
    assert_eq!(err.kind(), ErrorKind::SaveFailed);
    assert!(
        err.to_string()
            .ends_with("hosts: mk_augtemp: No such file or directory"),
        "{err}"
    );
    assert_eq!(err.file_errors().len(), 1);
    drop(aug);
    assert_eq!(Snapshot::of(&g.host_dir()), host);

    // With the same path present inside the guest, that copy is used.
    g.write(&sentinel.display().to_string(), "192.0.2.8 guestside\n");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    aug.aug_transform("Hosts", &through_link, false).unwrap();
    aug.aug_load().unwrap();
    assert_eq!(
        aug.aug_get(&format!("/files{through_link}/1/canonical"))
            .unwrap(),
        "guestside"
    );
    assert!(read_edit_save(&aug, &through_link).is_none());
    drop(aug);
    assert!(g.read(&sentinel.display().to_string()).contains("written"));
    assert_eq!(Snapshot::of(&g.host_dir()), host);

    // Control: unconfined, the link leads to the host sentinel.
    let mut raw = unconfined(&g.root);
    raw.transform("Hosts", &through_link, false).unwrap();
    raw.load().unwrap();
    assert_eq!(
        raw.get(format!("/files{through_link}/1/canonical"))
            .unwrap()
            .as_deref(),
        Some("hostsentinel")
    );
}

#[test]
fn a_directory_symlink_to_the_host_is_not_followed() {
    if !need_root() {
        return;
    }
    let g = Guest::new("dirlink");
    let host_dir = g.host_dir();
    std::fs::write(host_dir.join("sentinel.conf"), "options hostmod secret=1\n").unwrap();
    // Autoloaded by the Modprobe lens (incl /etc/modprobe.d/*).
    g.symlink("/etc/modprobe.d", &host_dir);
    g.write(
        &format!("{}/guest.conf", host_dir.display()),
        "options guestmod x=1\n",
    );
    let host = Snapshot::of(&host_dir);

    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    let files = aug.aug_ls("/files/etc/modprobe.d").unwrap();
    assert_eq!(files, ["/files/etc/modprobe.d/guest.conf"]);
    aug.aug_set("/files/etc/modprobe.d/guest.conf/options/x", "2")
        .unwrap();
    aug.aug_set("/files/etc/modprobe.d/sentinel.conf/options", "hostmod")
        .unwrap();
    aug.aug_set("/files/etc/modprobe.d/sentinel.conf/options/secret", "0")
        .unwrap();
    aug.aug_save().unwrap();
    drop(aug);
    assert_eq!(Snapshot::of(&host_dir), host, "the host directory changed");
    let guest_side = g.path(&host_dir.display().to_string());
    assert_eq!(
        std::fs::read_to_string(guest_side.join("guest.conf")).unwrap(),
        "options guestmod x=2\n"
    );
    assert_eq!(
        std::fs::read_to_string(guest_side.join("sentinel.conf")).unwrap(),
        "options hostmod secret=0\n"
    );

    // Control: unconfined, the host's file is loaded.
    let raw = unconfined(&g.root);
    assert_eq!(
        raw.get("/files/etc/modprobe.d/sentinel.conf/options/secret")
            .unwrap()
            .as_deref(),
        Some("1")
    );
}

#[test]
fn the_calling_thread_keeps_the_host_root() {
    if !need_root() {
        return;
    }
    let g = Guest::new("caller");
    let sentinel = host_sentinel(&g);
    let cwd = std::env::current_dir().unwrap();
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    // Only the worker is chrooted: this thread still sees the host.
    assert_eq!(std::fs::read_to_string(&sentinel).unwrap(), SENTINEL);
    assert_eq!(std::env::current_dir().unwrap(), cwd);
    let other = std::thread::spawn(move || std::fs::read_to_string(&sentinel).unwrap());
    assert_eq!(other.join().unwrap(), SENTINEL);
    drop(aug);
}

#[test]
fn guest_lens_files_are_never_used() {
    if !need_root() {
        return;
    }
    let g = Guest::new("guest-lenses");
    g.write("/etc/hosts", "192.0.2.1 guest\n");
    // A guest that ships "lenses" of its own, in every standard place.
    for dir in ["/usr/share/augeas/lenses/dist", "/usr/share/augeas/lenses"] {
        g.write(
            &format!("{dir}/hosts.aug"),
            "module Hosts = this is not a lens\n",
        );
    }
    for flags in [AugFlags::empty(), AugFlags::NO_MODL_AUTOLOAD] {
        let aug = Augeas::init(&g.root, flags).unwrap();
        if flags.contains(AugFlags::NO_MODL_AUTOLOAD) {
            aug.aug_transform("Hosts", "/etc/hosts", false).unwrap();
            aug.aug_load().unwrap();
        }
        assert_eq!(
            aug.aug_get("/files/etc/hosts/1/canonical").unwrap(),
            "guest",
            "{flags:?}"
        );
        let info = aug.aug_get("/augeas/files/etc/hosts/lens/info").unwrap();
        assert!(!info.contains(&g.root.display().to_string()), "{info}");
    }
}

/// A `proc` mounted inside a guest root for the length of a test.
struct ProcMount(PathBuf);

impl ProcMount {
    fn new(at: PathBuf) -> Self {
        std::fs::create_dir_all(&at).unwrap();
        nix::mount::mount(
            Some("proc"),
            &at,
            Some("proc"),
            nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
            None::<&str>,
        )
        .expect("mount proc");
        ProcMount(at)
    }
}

impl Drop for ProcMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// What a thread that only chroots into `root` reads at `path`.
fn read_after_plain_chroot(root: PathBuf, path: &'static str) -> std::io::Result<String> {
    std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS).unwrap();
        nix::unistd::chroot(&root).unwrap();
        nix::unistd::chdir("/").unwrap();
        std::fs::read_to_string(path)
    })
    .join()
    .unwrap()
}

#[test]
fn a_proc_mount_inside_the_guest_root_is_refused() {
    if !need_root() {
        return;
    }
    let g = Guest::new("proc");
    let sentinel = host_sentinel(&g);
    g.symlink(
        "/etc/hosts",
        format!("/proc/self/root{}", sentinel.display()),
    );
    let host = Snapshot::of(&g.host_dir());
    let proc_mount = ProcMount::new(g.path("/proc"));

    // Control: a plain chroot is escaped through /proc/self/root.
    assert_eq!(
        read_after_plain_chroot(g.root.clone(), "/etc/hosts").unwrap(),
        SENTINEL
    );

    let e = Augeas::init(&g.root, AugFlags::empty()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsafeRoot);
    let msg = e.to_string();
    assert!(msg.starts_with("aug_init: "), "{msg}");
    assert!(
        msg.contains(&format!("{} (proc)", g.path("/proc").display())),
        "{msg}"
    );
    drop(proc_mount);
    assert_eq!(Snapshot::of(&g.host_dir()), host);
}

/// In its private copy of the guest's mounts the worker does not see what
/// the host mounts after it started (without one, it rechecks before every
/// load and save: see `tests/devices.rs`).
#[test]
fn a_proc_mount_appearing_later_does_not_reach_the_worker() {
    if !need_root() {
        return;
    }
    let g = Guest::new("proc-later");
    let sentinel = host_sentinel(&g);
    g.write("/etc/hosts", "192.0.2.1 guest\n");
    g.symlink(
        "/etc/sentinel",
        format!("/proc/self/root{}", sentinel.display()),
    );
    std::fs::create_dir(g.path("/proc")).unwrap();
    let host = Snapshot::of(&g.host_dir());
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    aug.aug_transform("Hosts", "/etc/sentinel", false).unwrap();

    let proc_mount = ProcMount::new(g.path("/proc"));
    // Control: a plain chroot is now escaped through /proc/self/root.
    assert_eq!(
        read_after_plain_chroot(g.root.clone(), "/etc/sentinel").unwrap(),
        SENTINEL
    );
    aug.aug_load().unwrap();
    // The worker's /proc is still the guest's empty directory.
    assert!(aug.aug_match("/files/etc/sentinel").unwrap().is_empty());
    assert_eq!(
        aug.aug_get("/files/etc/hosts/1/canonical").unwrap(),
        "guest"
    );
    aug.aug_set("/files/etc/hosts/1/canonical", "changed")
        .unwrap();
    aug.aug_save().unwrap();
    drop(proc_mount);
    drop(aug);
    assert_eq!(g.read("/etc/hosts"), "192.0.2.1 changed\n");
    assert_eq!(Snapshot::of(&g.host_dir()), host);
}

/// Drop `cap` from this thread's effective capabilities (threads it starts
/// inherit the set).
fn drop_effective_capability(cap: u32) {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget/capset with a version-3 header and two data structs, as
    // capget(2) specifies; pid 0 is the calling thread.
    unsafe {
        assert_eq!(
            libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()),
            0
        );
        data[(cap / 32) as usize].effective &= !(1 << (cap % 32));
        assert_eq!(libc::syscall(libc::SYS_capset, &header, data.as_ptr()), 0);
    }
}

#[test]
fn without_the_chroot_privilege_init_says_what_is_needed() {
    if !need_root() {
        return;
    }
    let g = Guest::new("nocap");
    g.write("/etc/hosts", "192.0.2.1 guest\n");
    let root = g.root.clone();
    let e = std::thread::spawn(move || {
        drop_effective_capability(18); // CAP_SYS_CHROOT
        Augeas::init(&root, AugFlags::empty()).unwrap_err()
    })
    .join()
    .unwrap();
    assert_eq!(e.kind(), ErrorKind::Permission);
    assert_eq!(
        e.to_string(),
        format!(
            "aug_init: {}: confining augeas to the guest root needs CAP_SYS_CHROOT (run as root)",
            g.root.canonicalize().unwrap().display()
        )
    );
}
