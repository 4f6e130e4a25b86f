//! `inspect_list_applications2`: the packages installed in a Linux guest, read
//! from its package database in-process (no guest code runs), as libguestfs
//! reads them: dpkg's `/var/lib/dpkg/status`, apk's `/lib/apk/db/installed`,
//! pacman's `/var/lib/pacman/local/*/desc`.
//!
//! Every reader is bounded: the dpkg and apk databases are read only up to
//! libguestfs's 50 MB, a pacman `desc` file up to its 8 KiB, at most
//! [`MAX_PACKAGES`] packages are listed and a field keeps at most
//! [`MAX_FIELD`] bytes.
//!
//! Where VMCraft differs from libguestfs: a dpkg package counts as installed
//! when a word of its `Status:` is exactly `installed` (libguestfs looks for the
//! substring, so `not-installed` and `half-installed` packages are listed too);
//! the release is split off at the last `-` of the version, as dpkg, apk and
//! pacman define it (libguestfs splits at the first); a last entry not followed
//! by a blank line is not lost.

use serde::Serialize;

use super::fsread::{EntryKind, InspectFs, join};

/// libguestfs's limit on the dpkg status and apk installed files.
pub(crate) const MAX_DB_FILE: u64 = 50 * 1000 * 1000;
/// libguestfs's limit on a pacman `desc` file.
pub(crate) const MAX_PACMAN_DESC: u64 = 8192;
/// At most this many packages are listed.
pub const MAX_PACKAGES: usize = 200_000;
/// A field's text is cut at this many bytes.
pub const MAX_FIELD: usize = 64 * 1024;

/// One installed application (libguestfs's `struct guestfs_application2`).
/// Fields a package format does not have are empty (`0` for the epoch).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Application2 {
    /// The package name.
    pub app2_name: String,
    /// The display name (Windows; empty for Linux packages).
    pub app2_display_name: String,
    /// The epoch, 0 when the package has none.
    pub app2_epoch: i32,
    /// The version, without epoch and release.
    pub app2_version: String,
    /// The release (Debian revision, apk's `rN` without the `r`, pacman's pkgrel).
    pub app2_release: String,
    /// The architecture.
    pub app2_arch: String,
    /// The installation path (Windows).
    pub app2_install_path: String,
    /// The installation path as a guest path (not filled in, as in libguestfs).
    pub app2_trans_path: String,
    /// The publisher (Windows).
    pub app2_publisher: String,
    /// The upstream URL.
    pub app2_url: String,
    /// The source package (dpkg).
    pub app2_source_package: String,
    /// The one-line summary.
    pub app2_summary: String,
    /// The long description.
    pub app2_description: String,
    /// The classification (`antivirus` for Windows antivirus software).
    pub app2_class: String,
    /// Reserved.
    pub app2_spare2: String,
    /// Reserved.
    pub app2_spare3: String,
    /// Reserved.
    pub app2_spare4: String,
}

/// A field's text, cut at [`MAX_FIELD`] bytes (on a character boundary).
pub(crate) fn field(s: &str) -> String {
    if s.len() <= MAX_FIELD {
        return s.to_string();
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// `[epoch:]version[-release]`: the epoch (`None` when it is not a number),
/// the version and the release (split at the last `-`).
pub(crate) fn split_version(v: &str) -> Option<(i32, &str, &str)> {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) => {
            if e.is_empty() || !e.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            (e.parse::<i32>().ok()?, rest)
        }
        None => (0, v),
    };
    let (version, release) = rest.rsplit_once('-').unwrap_or((rest, ""));
    Some((epoch, version, release))
}

/// Sort by name, as libguestfs returns them.
fn sorted(mut v: Vec<Application2>) -> Vec<Application2> {
    v.sort_by(|a, b| a.app2_name.cmp(&b.app2_name));
    v
}

/// The installed packages of a dpkg `status` file.
pub(crate) fn parse_dpkg_status(text: &str) -> Vec<Application2> {
    #[derive(Default)]
    struct Pkg<'a> {
        name: Option<&'a str>,
        installed: bool,
        version: Option<&'a str>,
        arch: &'a str,
        url: &'a str,
        source: &'a str,
        summary: &'a str,
        description: String,
    }
    fn flush(p: &mut Pkg<'_>, out: &mut Vec<Application2>) {
        let p = std::mem::take(p);
        if !p.installed || out.len() >= MAX_PACKAGES {
            return;
        }
        let (Some(name), Some(v)) = (p.name, p.version) else {
            return;
        };
        let Some((epoch, version, release)) = split_version(v) else {
            return;
        };
        out.push(Application2 {
            app2_name: field(name),
            app2_epoch: epoch,
            app2_version: field(version),
            app2_release: field(release),
            app2_arch: field(p.arch),
            app2_url: field(p.url),
            app2_source_package: field(p.source),
            app2_summary: field(p.summary),
            app2_description: p.description,
            ..Default::default()
        });
    }
    let mut out = Vec::new();
    let mut p = Pkg::default();
    let mut in_description = false;
    for line in text.split('\n') {
        if let Some(cont) = line.strip_prefix(' ')
            && in_description
        {
            if p.description.len() + cont.len() < MAX_FIELD {
                if !p.description.is_empty() {
                    p.description.push('\n');
                }
                p.description.push_str(cont);
            }
            continue;
        }
        in_description = false;
        if line.is_empty() {
            flush(&mut p, &mut out);
        } else if let Some(v) = line.strip_prefix("Package: ") {
            p.name = Some(v);
        } else if let Some(v) = line.strip_prefix("Status: ") {
            p.installed = v.split_whitespace().any(|w| w == "installed");
        } else if let Some(v) = line.strip_prefix("Version: ") {
            p.version = Some(v);
        } else if let Some(v) = line.strip_prefix("Architecture: ") {
            p.arch = v;
        } else if let Some(v) = line.strip_prefix("Homepage: ") {
            p.url = v;
        } else if let Some(v) = line.strip_prefix("Source: ") {
            p.source = v.split(' ').next().unwrap_or("");
        } else if let Some(v) = line.strip_prefix("Description: ") {
            p.summary = v;
            in_description = true;
        }
    }
    flush(&mut p, &mut out);
    sorted(out)
}

/// The packages of an apk `installed` database (`P:` name, `V:` version, `A:`
/// arch, `T:` description, `U:` URL; a blank line ends a package).
pub(crate) fn parse_apk_installed(text: &str) -> Vec<Application2> {
    let mut out = Vec::new();
    let mut cur = Application2::default();
    let mut version: Option<(i32, String, String)> = None;
    let mut flush = |cur: &mut Application2, version: &mut Option<(i32, String, String)>| {
        let mut app = std::mem::take(cur);
        if let Some((epoch, v, r)) = version.take()
            && !app.app2_name.is_empty()
            && out.len() < MAX_PACKAGES
        {
            app.app2_epoch = epoch;
            app.app2_version = v;
            app.app2_release = r;
            out.push(app);
        }
    };
    for line in text.split('\n') {
        if line.is_empty() {
            flush(&mut cur, &mut version);
            continue;
        }
        let Some((key, value)) = line.split_at_checked(1).filter(|(_, r)| r.starts_with(':'))
        else {
            continue;
        };
        let value = &value[1..];
        match key {
            "P" => cur.app2_name = field(value),
            "A" => cur.app2_arch = field(value),
            "T" => cur.app2_description = field(value),
            "U" => cur.app2_url = field(value),
            "V" => {
                version = split_version(value)
                    .map(|(e, v, r)| (e, field(v), field(r.strip_prefix('r').unwrap_or(r))));
            }
            _ => {}
        }
    }
    flush(&mut cur, &mut version);
    sorted(out)
}

/// One pacman `desc` file (`%NAME%`, `%VERSION%`, `%DESC%`, `%URL%`, `%ARCH%`
/// sections, each followed by its value); `None` when the name, version, release
/// or architecture is missing.
pub(crate) fn parse_pacman_desc(text: &str) -> Option<Application2> {
    const KEYS: [&str; 5] = ["%NAME%", "%VERSION%", "%DESC%", "%URL%", "%ARCH%"];
    let mut values: [Option<&str>; 5] = [None; 5];
    let mut key: Option<usize> = None;
    for line in text.split('\n') {
        if line.is_empty() {
            key = None;
            continue;
        }
        if let Some(k) = key.take() {
            values[k] = Some(line);
            continue;
        }
        key = KEYS.iter().position(|k| *k == line);
    }
    let [name, version, desc, url, arch] = values;
    let (epoch, ver, rel) = split_version(version?)?;
    if ver.is_empty() || rel.is_empty() {
        return None;
    }
    Some(Application2 {
        app2_name: field(name?),
        app2_epoch: epoch,
        app2_version: field(ver),
        app2_release: field(rel),
        app2_arch: field(arch?),
        app2_url: field(url.unwrap_or("")),
        app2_description: field(desc.unwrap_or("")),
        ..Default::default()
    })
}

/// The applications of a Linux guest whose root (with its other filesystems)
/// `fs` shows, for `package_format`; `None` when the format has no reader here.
pub(crate) fn list_linux(fs: &dyn InspectFs, package_format: &str) -> Option<Vec<Application2>> {
    match package_format {
        "deb" => Some(
            fs.read_text("/var/lib/dpkg/status", MAX_DB_FILE)
                .map(|t| parse_dpkg_status(&t))
                .unwrap_or_default(),
        ),
        "apk" => Some(
            fs.read_text("/lib/apk/db/installed", MAX_DB_FILE)
                .map(|t| parse_apk_installed(&t))
                .unwrap_or_default(),
        ),
        "pacman" => {
            let dir = "/var/lib/pacman/local";
            let entries = fs.read_dir(dir, MAX_PACKAGES).unwrap_or_default();
            let apps = entries
                .iter()
                .filter(|(_, k)| *k == EntryKind::Dir)
                .filter_map(|(n, _)| {
                    let desc = fs.read_text(&join(&join(dir, n), "desc"), MAX_PACMAN_DESC)?;
                    parse_pacman_desc(&desc)
                })
                .collect();
            Some(sorted(apps))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fsread::mem::MemFs;
    use super::*;

    const DPKG: &str = "Package: test1\nStatus: install ok installed\nPriority: optional\n\
Architecture: amd64\nSource: test (1.0)\nVersion: 1:1.2.3-1ubuntu2\nDescription: this is a test package\n \
This is a test package.\n .\n Don't confuse it with a real package.\nHomepage: http://libguestfs.org/\n\n\
Package: gone\nStatus: deinstall ok config-files\nVersion: 2.0-1\n\n\
Package: nope\nStatus: purge ok not-installed\nVersion: 2.0-1\n\n\
Package: badepoch\nStatus: install ok installed\nVersion: x:2.0-1\n\n\
Package: a-native\nStatus: installed ok\nVersion: 2.0\nArchitecture: all\n";

    #[test]
    fn dpkg() {
        let apps = parse_dpkg_status(DPKG);
        let names: Vec<&str> = apps.iter().map(|a| a.app2_name.as_str()).collect();
        assert_eq!(names, ["a-native", "test1"]);
        let t = &apps[1];
        assert_eq!(
            (
                t.app2_epoch,
                t.app2_version.as_str(),
                t.app2_release.as_str()
            ),
            (1, "1.2.3", "1ubuntu2")
        );
        assert_eq!(t.app2_arch, "amd64");
        assert_eq!(t.app2_source_package, "test");
        assert_eq!(t.app2_summary, "this is a test package");
        assert_eq!(
            t.app2_description,
            "This is a test package.\n.\nDon't confuse it with a real package."
        );
        assert_eq!(t.app2_url, "http://libguestfs.org/");
        assert_eq!(
            (apps[0].app2_version.as_str(), apps[0].app2_release.as_str()),
            ("2.0", "")
        );
        assert_eq!(split_version("1.2-beta-3"), Some((0, "1.2-beta", "3")));
        assert_eq!(split_version("99999999999:1"), None);
    }

    #[test]
    fn apk() {
        let db = "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:383152\nT:the musl c library (libc) implementation\n\
U:https://musl.libc.org/\nL:MIT\n\nP:busybox\nV:1:1.36.1-r5\nA:x86_64\nT:Size optimized toolbox\n\n\
P:noversion\n\nbroken line\nX\n";
        let apps = parse_apk_installed(db);
        assert_eq!(apps.len(), 2);
        assert_eq!(apps[0].app2_name, "busybox");
        assert_eq!(
            (
                apps[0].app2_epoch,
                apps[0].app2_version.as_str(),
                apps[0].app2_release.as_str()
            ),
            (1, "1.36.1", "5")
        );
        assert_eq!(apps[1].app2_name, "musl");
        assert_eq!(apps[1].app2_release, "2");
        assert_eq!(
            apps[1].app2_description,
            "the musl c library (libc) implementation"
        );
        assert_eq!(apps[1].app2_url, "https://musl.libc.org/");
    }

    #[test]
    fn pacman() {
        let desc = "%NAME%\ntest-package\n\n%VERSION%\n1:0.1-1\n\n%DESC%\nTest package for libguestfs\n\n\
%URL%\nhttp://libguestfs.org/\n\n%ARCH%\nx86_64\n\n";
        let fs = MemFs::new(&[
            ("/var/lib/pacman/local/test-package-1:0.1-1/desc", desc),
            ("/var/lib/pacman/local/broken-1/desc", "%NAME%\nbroken\n"),
            ("/var/lib/pacman/local/ALPM_DB_VERSION", "9\n"),
        ]);
        let apps = list_linux(&fs, "pacman").unwrap();
        assert_eq!(apps.len(), 1);
        let a = &apps[0];
        assert_eq!(
            (
                a.app2_name.as_str(),
                a.app2_epoch,
                a.app2_version.as_str(),
                a.app2_release.as_str(),
                a.app2_arch.as_str()
            ),
            ("test-package", 1, "0.1", "1", "x86_64")
        );
        assert_eq!(a.app2_description, "Test package for libguestfs");
        assert_eq!(
            parse_pacman_desc("%NAME%\nx\n%VERSION%\n1.0\n%ARCH%\nany\n"),
            None,
            "no pkgrel"
        );
        assert!(list_linux(&fs, "rpm").is_none());
        assert_eq!(list_linux(&MemFs::new(&[]), "deb"), Some(vec![]));
    }

    #[test]
    fn hostile_databases() {
        // Long fields are cut, huge package counts capped, garbage ignored.
        let long = "x".repeat(MAX_FIELD * 3);
        let db = format!(
            "Package: {long}\nStatus: install ok installed\nVersion: 1-1\nDescription: s\n {long}\n {long}\n\n"
        );
        let apps = parse_dpkg_status(&db);
        assert_eq!(apps[0].app2_name.len(), MAX_FIELD);
        assert!(apps[0].app2_description.len() < MAX_FIELD);
        let many = "P:a\nV:1-r0\n\n".repeat(MAX_PACKAGES + 10);
        assert_eq!(parse_apk_installed(&many).len(), MAX_PACKAGES);
        for s in [
            "",
            "\n\n\n",
            ":",
            "P:",
            "V:",
            "%NAME%",
            "%VERSION%\n:-",
            "Package: \nVersion: :\n",
            "é:é\n",
        ] {
            let _ = parse_dpkg_status(s);
            let _ = parse_apk_installed(s);
            let _ = parse_pacman_desc(s);
        }
        // A database over the limit is not read.
        let fs = MemFs::new(&[]).add(
            "/var/lib/dpkg/status",
            &vec![b'a'; MAX_DB_FILE as usize + 1],
        );
        assert_eq!(list_linux(&fs, "deb"), Some(vec![]));
        // A multi-byte character at the cut is not split.
        let s = format!("{}é", "a".repeat(MAX_FIELD - 1));
        assert_eq!(field(&s).len(), MAX_FIELD - 1);
    }
}
