//! Which Linux distribution, which version, which product: libguestfs's rules.
//!
//! The release files are tried in libguestfs's order (`/etc/os-release` first,
//! then `/etc/lsb-release`, then the distributions' own files, the Red Hat family
//! before the generic `/etc/redhat-release`, `/etc/SuSE-release`,
//! `/etc/debian_version`, ...). A file that exists is parsed; when its parser
//! says it is done the search stops, otherwise it goes on with the next test,
//! keeping what the earlier parsers learnt (so a product name or a version from
//! os-release survives when os-release alone did not settle the distribution).
//!
//! libguestfs matches the Red Hat family's release lines with PCRE patterns
//! (`Red Hat.*release (\d+)\.(\d+)`, ...); they are matched here by hand with the
//! same meaning (greedy `.*`: the last `release N` after the name counts).
//!
//! One deliberate difference: when os-release named the product and the version
//! comes from `/etc/debian_version`, the product name stays os-release's
//! `PRETTY_NAME` (libguestfs replaces it with the content of `debian_version`, a
//! bare version number such as `12.8`: libguestfs issue 361).

use super::fsread::{InspectFs, SMALL_FILE};

/// What inspection learns about one filesystem (libguestfs's `inspection_data`):
/// `None` is "not determined".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Data {
    /// `linux`, ...
    pub os_type: Option<&'static str>,
    /// libguestfs's distro name.
    pub distro: Option<&'static str>,
    /// The product name.
    pub product_name: Option<String>,
    /// (major, minor).
    pub version: Option<(i32, i32)>,
    /// The architecture of the binaries.
    pub arch: Option<String>,
    /// The configured hostname.
    pub hostname: Option<String>,
    /// os-release's `BUILD_ID`.
    pub build_id: Option<String>,
    /// `deb`, `rpm`, ...
    pub package_format: Option<&'static str>,
    /// `apt`, `dnf`, ...
    pub package_management: Option<&'static str>,
    /// Whether the product name came from os-release (see the module docs).
    pub product_from_os_release: bool,
}

impl Data {
    /// Fill what `self` lacks from `child` (libguestfs's merge of a separate
    /// `/usr` into its root).
    pub(crate) fn merge_from(&mut self, child: &Data) {
        fn m<T: Clone>(parent: &mut Option<T>, child: &Option<T>) {
            if parent.is_none() {
                parent.clone_from(child);
            }
        }
        m(&mut self.os_type, &child.os_type);
        m(&mut self.distro, &child.distro);
        m(&mut self.product_name, &child.product_name);
        m(&mut self.version, &child.version);
        m(&mut self.arch, &child.arch);
        m(&mut self.hostname, &child.hostname);
        m(&mut self.build_id, &child.build_id);
        m(&mut self.package_format, &child.package_format);
        m(&mut self.package_management, &child.package_management);
    }
}

/// `KEY=value` lines as libguestfs splits them: empty lines and lines starting
/// with `#` are skipped, the key is everything before the first `=` (the whole
/// line when there is none), nothing is trimmed.
pub(crate) fn key_values(text: &str) -> Vec<(&str, &str)> {
    text.split('\n')
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split_once('=').unwrap_or((l, "")))
        .collect()
}

/// Strip one pair of matching quotes (`"..."` or `'...'`), nothing else.
pub(crate) fn simple_unquote(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2
        && ((b[0] == b'"' && b[b.len() - 1] == b'"') || (b[0] == b'\'' && b[b.len() - 1] == b'\''))
    {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// Shell unquoting as os-release's format allows it: `"..."` with `\"`, `\\`,
/// `\$` and `` \` `` escapes, `'...'` taken literally, anything else as it is.
pub(crate) fn shell_unquote(s: &str) -> String {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b'\'' && b[b.len() - 1] == b'\'' {
        return s[1..s.len() - 1].to_string();
    }
    if b.len() >= 2 && b[0] == b'"' && b[b.len() - 1] == b'"' {
        let inner = &s[1..s.len() - 1];
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\'
                && let Some(&n) = chars.peek()
                && matches!(n, '"' | '\\' | '$' | '`')
            {
                out.push(n);
                chars.next();
                continue;
            }
            out.push(c);
        }
        return out;
    }
    s.to_string()
}

/// The run of ASCII digits starting at `i`, as a number that fits an `i32`.
fn digits_at(s: &[u8], i: usize) -> Option<(i32, usize)> {
    let end = i + s
        .get(i..)?
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if end == i {
        return None;
    }
    let v = std::str::from_utf8(&s[i..end]).ok()?.parse::<i32>().ok()?;
    Some((v, end))
}

/// libguestfs's `parse_version_from_major_minor`: the first `N.M` anywhere,
/// else the first `N` (minor 0), else nothing. A number too large for an `i32`
/// makes it nothing (libguestfs fails on it).
pub(crate) fn version_from_major_minor(s: &str) -> Option<(i32, i32)> {
    let b = s.as_bytes();
    let run_end = |i: usize| i + b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let starts: Vec<usize> = (0..b.len())
        .filter(|&i| b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_digit()))
        .collect();
    let num = |from: usize, to: usize| s[from..to].parse::<i32>().ok();
    for &i in &starts {
        let end = run_end(i);
        if b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit) {
            return Some((num(i, end)?, num(end + 1, run_end(end + 1))?));
        }
    }
    let i = *starts.first()?;
    Some((num(i, run_end(i))?, 0))
}

/// How a release line is matched, standing for one of libguestfs's patterns.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rex {
    /// `NAME.*release (\d+).*Update (\d+)`
    Update(&'static str),
    /// `NAME.*release (\d+)\.(\d+)`
    MajorMinor(&'static str),
    /// `NAME.*release (\d+)`
    Major(&'static str),
    /// `Fedora release (\d+)`
    Fedora,
    /// `OpenMandriva.*release (\d+)\.(\d+)\.?(\d+)? .*`
    OpenMandriva,
    /// `TencentOS.* (\d+)\.(\d+)`
    TencentOs,
    /// `Frugalware (\d+)\.(\d+)`
    Frugalware,
    /// `(\d+)\.(\d+) PLD Linux`
    Pld,
}

/// Byte offsets just after each occurrence of `pat` in `s` at or after `from`.
fn ends_of(s: &str, pat: &str, from: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = from;
    while let Some(p) = s.get(i..).and_then(|r| r.find(pat)) {
        out.push(i + p + pat.len());
        i += p + 1;
    }
    out
}

/// `D+` or `D+.D+` at `i`; with `need_minor` the minor is required.
fn version_at(b: &[u8], i: usize, need_minor: bool) -> Option<(i32, Option<i32>, usize)> {
    let (major, end) = digits_at(b, i)?;
    if need_minor {
        if b.get(end) != Some(&b'.') {
            return None;
        }
        let (minor, end2) = digits_at(b, end + 1)?;
        return Some((major, Some(minor), end2));
    }
    Some((major, None, end))
}

impl Rex {
    /// The (major, minor) the pattern captures, `None` if it does not match;
    /// `Some((major, None))` where only a major is captured.
    pub(crate) fn captures(self, line: &str) -> Option<(i32, Option<i32>)> {
        let b = line.as_bytes();
        // `NAME.*release ` then the version: the first NAME, the last release.
        let after_release = |name: &str| -> Vec<usize> {
            match line.find(name) {
                Some(p) => ends_of(line, "release ", p + name.len()),
                None => Vec::new(),
            }
        };
        match self {
            Rex::Update(name) => after_release(name).into_iter().rev().find_map(|i| {
                let (major, _, end) = version_at(b, i, false)?;
                let upd = ends_of(line, "Update ", end)
                    .into_iter()
                    .rev()
                    .find_map(|j| digits_at(b, j))?;
                Some((major, Some(upd.0)))
            }),
            Rex::MajorMinor(name) => after_release(name)
                .into_iter()
                .rev()
                .find_map(|i| version_at(b, i, true).map(|(a, m, _)| (a, m))),
            Rex::Major(name) => after_release(name)
                .into_iter()
                .rev()
                .find_map(|i| digits_at(b, i).map(|(a, _)| (a, None))),
            Rex::Fedora => ends_of(line, "Fedora release ", 0)
                .into_iter()
                .find_map(|i| digits_at(b, i).map(|(a, _)| (a, None))),
            Rex::OpenMandriva => after_release("OpenMandriva")
                .into_iter()
                .rev()
                .find_map(|i| {
                    let (major, minor, mut end) = version_at(b, i, true)?;
                    if b.get(end) == Some(&b'.') {
                        end += 1;
                    }
                    while b.get(end).is_some_and(u8::is_ascii_digit) {
                        end += 1;
                    }
                    (b.get(end) == Some(&b' ')).then_some((major, minor))
                }),
            Rex::TencentOs => {
                let p = line.find("TencentOS")?;
                ends_of(line, " ", p + "TencentOS".len())
                    .into_iter()
                    .rev()
                    .find_map(|i| version_at(b, i, true).map(|(a, m, _)| (a, m)))
            }
            Rex::Frugalware => ends_of(line, "Frugalware ", 0)
                .into_iter()
                .find_map(|i| version_at(b, i, true).map(|(a, m, _)| (a, m))),
            Rex::Pld => (0..b.len())
                .filter(|&i| b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_digit()))
                .find_map(|i| {
                    let (a, m, end) = version_at(b, i, true)?;
                    line.get(end..)?.starts_with(" PLD Linux").then_some((a, m))
                }),
        }
    }
}

/// How one release file is parsed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Parser {
    /// `/etc/os-release`.
    OsRelease,
    /// `/etc/lsb-release`.
    LsbRelease,
    /// `/etc/SuSE-release`.
    SuseRelease,
    /// The first line is the product name, the distro is fixed, and the
    /// pattern (which must match, when given) gives the version.
    Generic(&'static str, Option<Rex>),
    /// The file's presence alone sets the distro.
    Presence(&'static str),
    /// `/etc/br-version`: Cirros when `/usr/share/cirros/logo` exists, else
    /// Buildroot.
    Buildroot,
}

/// libguestfs's `linux_root_tests`, in its order.
pub(crate) const LINUX_ROOT_TESTS: &[(&str, Parser)] = {
    use Parser::*;
    use Rex::*;
    &[
        ("/etc/os-release", OsRelease),
        ("/etc/lsb-release", LsbRelease),
        (
            "/etc/openmandriva-release",
            Generic("openmandriva", Some(OpenMandriva)),
        ),
        (
            "/etc/opencloudos-release",
            Generic("opencloudos", Some(Major("OpenCloudOS"))),
        ),
        (
            "/etc/tencentos-release",
            Generic("tencentos", Some(TencentOs)),
        ),
        (
            "/etc/oracle-release",
            Generic("oraclelinux", Some(Update("Oracle Linux"))),
        ),
        (
            "/etc/oracle-release",
            Generic("oraclelinux", Some(MajorMinor("Oracle Linux"))),
        ),
        (
            "/etc/oracle-release",
            Generic("oraclelinux", Some(Major("Oracle Linux"))),
        ),
        (
            "/etc/centos-release",
            Generic("centos", Some(Update("CentOS"))),
        ),
        (
            "/etc/centos-release",
            Generic("centos", Some(MajorMinor("CentOS"))),
        ),
        (
            "/etc/centos-release",
            Generic("centos", Some(Major("CentOS"))),
        ),
        (
            "/etc/circle-release",
            Generic("circle", Some(MajorMinor("Circle Linux"))),
        ),
        (
            "/etc/circle-release",
            Generic("circle", Some(Major("Circle Linux"))),
        ),
        (
            "/etc/rocky-release",
            Generic("rocky", Some(MajorMinor("Rocky Linux"))),
        ),
        (
            "/etc/rocky-release",
            Generic("rocky", Some(Major("Rocky Linux"))),
        ),
        ("/etc/altlinux-release", Generic("altlinux", None)),
        ("/etc/redhat-release", Generic("fedora", Some(Fedora))),
        (
            "/etc/redhat-release",
            Generic("rhel", Some(Update("Red Hat"))),
        ),
        (
            "/etc/redhat-release",
            Generic("rhel", Some(MajorMinor("Red Hat"))),
        ),
        (
            "/etc/redhat-release",
            Generic("rhel", Some(Major("Red Hat"))),
        ),
        (
            "/etc/redhat-release",
            Generic("centos", Some(Update("CentOS"))),
        ),
        (
            "/etc/redhat-release",
            Generic("centos", Some(MajorMinor("CentOS"))),
        ),
        (
            "/etc/redhat-release",
            Generic("centos", Some(Major("CentOS"))),
        ),
        (
            "/etc/redhat-release",
            Generic("circle", Some(MajorMinor("Circle Linux"))),
        ),
        (
            "/etc/redhat-release",
            Generic("circle", Some(Major("Circle Linux"))),
        ),
        (
            "/etc/redhat-release",
            Generic("rocky", Some(MajorMinor("Rocky Linux"))),
        ),
        (
            "/etc/redhat-release",
            Generic("rocky", Some(Major("Rocky Linux"))),
        ),
        (
            "/etc/redhat-release",
            Generic("scientificlinux", Some(Update("Scientific Linux"))),
        ),
        (
            "/etc/redhat-release",
            Generic("scientificlinux", Some(MajorMinor("Scientific Linux"))),
        ),
        (
            "/etc/redhat-release",
            Generic("scientificlinux", Some(Major("Scientific Linux"))),
        ),
        ("/etc/redhat-release", Generic("redhat-based", None)),
        ("/etc/redhat-release", Presence("redhat-based")),
        ("/etc/debian_version", Generic("debian", None)),
        ("/etc/pardus-release", Generic("pardus", None)),
        ("/etc/arch-release", Presence("archlinux")),
        ("/etc/gentoo-release", Generic("gentoo", None)),
        ("/etc/meego-release", Generic("meego", None)),
        ("/etc/slackware-version", Generic("slackware", None)),
        ("/etc/ttylinux-target", Generic("ttylinux", None)),
        ("/etc/SuSE-release", SuseRelease),
        ("/etc/SuSE-release", Presence("suse-based")),
        ("/etc/cirros/version", Generic("cirros", None)),
        ("/etc/br-version", Buildroot),
        ("/etc/alpine-release", Generic("alpinelinux", None)),
        (
            "/etc/frugalware-release",
            Generic("frugalware", Some(Frugalware)),
        ),
        ("/etc/pld-release", Generic("pldlinux", Some(Pld))),
    ]
};

/// os-release's `ID` to libguestfs's distro (unknown IDs, such as `photon`,
/// `amzn` or `almalinux`, give nothing).
pub(crate) fn distro_of_os_release_id(id: &str) -> Option<&'static str> {
    Some(match id {
        "alpine" => "alpinelinux",
        "altlinux" => "altlinux",
        "arch" => "archlinux",
        "centos" => "centos",
        "circle" => "circle",
        "coreos" => "coreos",
        "debian" => "debian",
        "fedora" => "fedora",
        "frugalware" => "frugalware",
        "gentoo" => "gentoo",
        "kali" => "kalilinux",
        "kylin" => "kylin",
        "mageia" => "mageia",
        "neokylin" => "neokylin",
        "openEuler" => "openeuler",
        "openmandriva" => "openmandriva",
        "opencloudos" => "opencloudos",
        "tencentos" => "tencentos",
        "opensuse" => "opensuse",
        s if s.starts_with("opensuse-") => "opensuse",
        "pardus" => "pardus",
        "pld" => "pldlinux",
        "rhel" => "rhel",
        "rocky" => "rocky",
        "sles" | "sled" => "sles",
        "ubuntu" => "ubuntu",
        "void" => "voidlinux",
        _ => return None,
    })
}

/// lsb-release's `DISTRIB_ID` to libguestfs's distro.
fn distro_of_lsb_id(id: &str) -> Option<&'static str> {
    Some(match id {
        "CoreOS" => "coreos",
        "LinuxMint" => "linuxmint",
        "Mageia" => "mageia",
        "Ubuntu" => "ubuntu",
        _ => return None,
    })
}

/// Distributions without versions.
const ROLLING: [&str; 3] = ["archlinux", "gentoo", "voidlinux"];

/// NeoKylin's `VERSION_ID` (`V7Update6`).
fn neokylin_version(v: &str) -> Option<(i32, i32)> {
    let rest = v.strip_prefix('V')?;
    let (a, b) = rest.split_once("Update")?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    (all_digits(a) && all_digits(b)).then(|| Some((a.parse().ok()?, b.parse().ok()?)))?
}

/// Parse os-release into `data`; whether that settles it.
pub(crate) fn parse_os_release(text: &str, data: &mut Data) -> bool {
    for (key, value) in key_values(text) {
        let value = shell_unquote(value);
        match key {
            "ID" => {
                if let Some(d) = distro_of_os_release_id(&value) {
                    data.distro = Some(d);
                }
            }
            "PRETTY_NAME" => {
                data.product_name = Some(value);
                data.product_from_os_release = true;
            }
            "VERSION_ID" => {
                if let Some(v) =
                    neokylin_version(&value).or_else(|| version_from_major_minor(&value))
                {
                    data.version = Some(v);
                }
            }
            "BUILD_ID" => data.build_id = Some(value),
            _ => {}
        }
    }
    if data.distro.is_none() || data.product_name.is_none() {
        return false;
    }
    match (data.distro, data.version) {
        // Only the major version: the release files have the rest.
        (Some("debian" | "centos" | "circle" | "rocky"), Some((_, 0))) => false,
        (Some(d), None) if ROLLING.contains(&d) => {
            data.version = Some((0, 0));
            true
        }
        (_, None) => false,
        _ => true,
    }
}

/// Parse lsb-release into `data`; whether it named the distro or the product.
pub(crate) fn parse_lsb_release(text: &str, data: &mut Data) -> bool {
    let mut ok = false;
    for (key, value) in key_values(text) {
        let value = simple_unquote(value);
        match key {
            "DISTRIB_ID" => {
                if let Some(d) = distro_of_lsb_id(value) {
                    ok = true;
                    data.distro = Some(d);
                }
            }
            "DISTRIB_RELEASE" => {
                if let Some(v) = version_from_major_minor(value) {
                    data.version = Some(v);
                }
            }
            "DISTRIB_DESCRIPTION" => {
                ok = true;
                data.product_name = Some(value.to_string());
                data.product_from_os_release = false;
            }
            _ => {}
        }
    }
    ok
}

/// `^VERSION = (\d+)` / `^PATCHLEVEL = (\d+)`.
fn suse_number(line: &str, key: &str) -> Option<i32> {
    let rest = line.strip_prefix(key)?.strip_prefix(" = ")?;
    digits_at(rest.as_bytes(), 0).map(|(v, _)| v)
}

/// Parse `/etc/SuSE-release` (first line the product, then `VERSION = N` and
/// `PATCHLEVEL = N` for SLES); whether it was not empty.
pub(crate) fn parse_suse_release(text: &str, data: &mut Data) -> bool {
    let lines: Vec<&str> = text.split('\n').collect();
    if text.is_empty() {
        return false;
    }
    let product = lines[0];
    data.product_name = Some(product.to_string());
    data.product_from_os_release = false;
    let sles = ["SUSE Linux Enterprise ", "SUSE LINUX Enterprise "]
        .iter()
        .any(|p| product.starts_with(p))
        || product.starts_with("Novell Linux Desktop ");
    if sles {
        let major = lines.get(1).and_then(|l| suse_number(l, "VERSION"));
        let minor = lines.get(2).and_then(|l| suse_number(l, "PATCHLEVEL"));
        data.distro = Some("sles");
        data.version = major.map(|m| (m, minor.unwrap_or(0)));
    } else if ["openSUSE ", "SuSE Linux ", "SUSE LINUX "]
        .iter()
        .any(|p| product.starts_with(p))
    {
        if let Some(v) = lines.get(1).and_then(|l| version_from_major_minor(l)) {
            data.version = Some(v);
        }
        data.distro = Some("opensuse");
    }
    true
}

/// libguestfs's `parse_generic` over the file's first line.
fn parse_generic(
    first_line: &str,
    distro: &'static str,
    rex: Option<Rex>,
    path: &str,
    data: &mut Data,
) -> bool {
    if first_line.is_empty() {
        return false;
    }
    // debian_version holds a version, not a name: it does not replace the
    // product os-release named (libguestfs issue 361).
    if !(path == "/etc/debian_version" && data.product_from_os_release) {
        data.product_name = Some(first_line.to_string());
        data.product_from_os_release = false;
    }
    data.distro = Some(distro);
    match rex {
        Some(rex) => match rex.captures(first_line) {
            Some((major, minor)) => {
                data.version = Some((major, minor.unwrap_or(0)));
                true
            }
            None => false,
        },
        None => {
            if let Some(v) = version_from_major_minor(first_line) {
                data.version = Some(v);
            }
            true
        }
    }
}

/// Run the release-file tests over `fs` into `data`.
pub(crate) fn check_tests(fs: &dyn InspectFs, tests: &[(&str, Parser)], data: &mut Data) {
    for (path, parser) in tests {
        if !fs.is_file(path, true) {
            continue;
        }
        let text = || fs.read_text(path, SMALL_FILE);
        let first_line = || text().map(|t| t.split('\n').next().unwrap_or("").to_string());
        let done = match *parser {
            Parser::OsRelease => text().is_some_and(|t| parse_os_release(&t, data)),
            Parser::LsbRelease => text().is_some_and(|t| parse_lsb_release(&t, data)),
            Parser::SuseRelease => text().is_some_and(|t| parse_suse_release(&t, data)),
            Parser::Generic(distro, rex) => {
                first_line().is_some_and(|l| parse_generic(&l, distro, rex, path, data))
            }
            Parser::Presence(distro) => {
                data.distro = Some(distro);
                true
            }
            Parser::Buildroot => {
                let distro = if fs.is_file("/usr/share/cirros/logo", true) {
                    "cirros"
                } else {
                    "buildroot"
                };
                first_line().is_some_and(|l| parse_generic(&l, distro, None, path, data))
            }
        };
        if done {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fsread::mem::MemFs;
    use super::*;

    fn run(files: &[(&str, &str)]) -> Data {
        let fs = MemFs::new(files);
        let mut d = Data::default();
        check_tests(&fs, LINUX_ROOT_TESTS, &mut d);
        d
    }

    fn summary(d: &Data) -> (Option<&str>, Option<&str>, Option<(i32, i32)>) {
        (d.distro, d.product_name.as_deref(), d.version)
    }

    #[test]
    fn versions() {
        assert_eq!(version_from_major_minor("22.04"), Some((22, 4)));
        assert_eq!(
            version_from_major_minor("Ubuntu 10.04.1 LTS"),
            Some((10, 4))
        );
        assert_eq!(version_from_major_minor("12"), Some((12, 0)));
        assert_eq!(version_from_major_minor("bookworm/sid"), None);
        assert_eq!(version_from_major_minor("x 5 and 6.7"), Some((6, 7)));
        // Out of range numbers are no version, not a panic.
        assert_eq!(version_from_major_minor("99999999999999999999.1"), None);
        assert_eq!(version_from_major_minor("7.99999999999999999999"), None);
    }

    #[test]
    fn release_lines() {
        let c = |r: Rex, s: &str| r.captures(s);
        let rh = "Red Hat Enterprise Linux Server release 5.11 (Tikanga)";
        assert_eq!(c(Rex::Update("Red Hat"), rh), None);
        assert_eq!(c(Rex::MajorMinor("Red Hat"), rh), Some((5, Some(11))));
        let rh4 = "Red Hat Enterprise Linux AS release 4 (Nahant Update 9)";
        assert_eq!(c(Rex::Update("Red Hat"), rh4), Some((4, Some(9))));
        assert_eq!(
            c(Rex::Fedora, "Fedora release 30 (Thirty)"),
            Some((30, None))
        );
        assert_eq!(c(Rex::Fedora, "Fedora release rawhide"), None);
        assert_eq!(
            c(
                Rex::MajorMinor("CentOS"),
                "CentOS Linux release 7.9.2009 (Core)"
            ),
            Some((7, Some(9)))
        );
        assert_eq!(
            c(Rex::Major("CentOS"), "CentOS Stream release 9"),
            Some((9, None))
        );
        assert_eq!(
            c(Rex::Frugalware, "Frugalware 1.9 (Arcturus)"),
            Some((1, Some(9)))
        );
        assert_eq!(c(Rex::Pld, "3.0 PLD Linux (Th)"), Some((3, Some(0))));
        assert_eq!(
            c(
                Rex::OpenMandriva,
                "OpenMandriva Lx release 4.3 (Cooker) for x86_64"
            ),
            Some((4, Some(3)))
        );
        assert_eq!(
            c(Rex::TencentOs, "TencentOS Server 3.1 (Final)"),
            Some((3, Some(1)))
        );
    }

    #[test]
    fn os_release_first() {
        let d = run(&[
            (
                "/etc/os-release",
                "NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nPRETTY_NAME=\"Ubuntu 22.04.3 LTS\"\nID=ubuntu\n",
            ),
            (
                "/etc/lsb-release",
                "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=21.10\n",
            ),
            ("/etc/debian_version", "bookworm/sid\n"),
        ]);
        assert_eq!(
            summary(&d),
            (Some("ubuntu"), Some("Ubuntu 22.04.3 LTS"), Some((22, 4)))
        );
    }

    #[test]
    fn debian_point_release_keeps_pretty_name() {
        let d = run(&[
            (
                "/etc/os-release",
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nID=debian\n",
            ),
            ("/etc/debian_version", "12.8\n"),
        ]);
        assert_eq!(
            summary(&d),
            (
                Some("debian"),
                Some("Debian GNU/Linux 12 (bookworm)"),
                Some((12, 8))
            )
        );
        // Without os-release, debian_version is all there is.
        let d = run(&[("/etc/debian_version", "5.0.1")]);
        assert_eq!(summary(&d), (Some("debian"), Some("5.0.1"), Some((5, 0))));
        // Testing/sid: no VERSION_ID, a codename in debian_version.
        let d = run(&[
            (
                "/etc/os-release",
                "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nID=debian\n",
            ),
            ("/etc/debian_version", "trixie/sid\n"),
        ]);
        assert_eq!(
            summary(&d),
            (Some("debian"), Some("Debian GNU/Linux trixie/sid"), None)
        );
    }

    #[test]
    fn red_hat_family() {
        let d = run(&[(
            "/etc/redhat-release",
            "Red Hat Enterprise Linux Server release 6.10 (Santiago)\n",
        )]);
        assert_eq!(
            summary(&d),
            (
                Some("rhel"),
                Some("Red Hat Enterprise Linux Server release 6.10 (Santiago)"),
                Some((6, 10))
            )
        );
        let d = run(&[
            (
                "/etc/os-release",
                "NAME=\"CentOS Linux\"\nVERSION_ID=\"7\"\nID=\"centos\"\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\n",
            ),
            (
                "/etc/centos-release",
                "CentOS Linux release 7.9.2009 (Core)\n",
            ),
            ("/etc/redhat-release", "->centos-release"),
        ]);
        assert_eq!(
            summary(&d),
            (
                Some("centos"),
                Some("CentOS Linux release 7.9.2009 (Core)"),
                Some((7, 9))
            )
        );
        let d = run(&[("/etc/redhat-release", "Fedora release 14 (Phony)")]);
        assert_eq!(
            summary(&d),
            (
                Some("fedora"),
                Some("Fedora release 14 (Phony)"),
                Some((14, 0))
            )
        );
        // Not a known member of the family.
        let d = run(&[
            (
                "/etc/os-release",
                "ID=\"almalinux\"\nVERSION_ID=\"9.2\"\nPRETTY_NAME=\"AlmaLinux 9.2 (Turquoise Kodkod)\"\n",
            ),
            (
                "/etc/redhat-release",
                "AlmaLinux release 9.2 (Turquoise Kodkod)\n",
            ),
        ]);
        assert_eq!(
            summary(&d),
            (
                Some("redhat-based"),
                Some("AlmaLinux release 9.2 (Turquoise Kodkod)"),
                Some((9, 2))
            )
        );
        let d = run(&[("/etc/redhat-release", "")]);
        assert_eq!(summary(&d), (Some("redhat-based"), None, None));
    }

    #[test]
    fn suse() {
        let d = run(&[(
            "/etc/SuSE-release",
            "SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 4\n",
        )]);
        assert_eq!(
            summary(&d),
            (
                Some("sles"),
                Some("SUSE Linux Enterprise Server 11 (x86_64)"),
                Some((11, 4))
            )
        );
        let d = run(&[(
            "/etc/SuSE-release",
            "openSUSE 13.1 (x86_64)\nVERSION = 13.1\nCODENAME = Bottle\n",
        )]);
        assert_eq!(
            summary(&d),
            (
                Some("opensuse"),
                Some("openSUSE 13.1 (x86_64)"),
                Some((13, 1))
            )
        );
        // An unknown first line: the product name only, as libguestfs.
        let d = run(&[("/etc/SuSE-release", "Something Else\n")]);
        assert_eq!(summary(&d), (None, Some("Something Else"), None));
        // An empty file: some SUSE derivative.
        let d = run(&[("/etc/SuSE-release", "")]);
        assert_eq!(d.distro, Some("suse-based"));
    }

    #[test]
    fn rolling_and_others() {
        let d = run(&[(
            "/etc/os-release",
            "NAME=\"Arch Linux\"\nPRETTY_NAME=\"Arch Linux\"\nID=arch\nBUILD_ID=rolling\n",
        )]);
        assert_eq!(
            summary(&d),
            (Some("archlinux"), Some("Arch Linux"), Some((0, 0)))
        );
        assert_eq!(d.build_id.as_deref(), Some("rolling"));
        let d = run(&[("/etc/arch-release", "")]);
        assert_eq!(summary(&d), (Some("archlinux"), None, None));
        // Unknown IDs fall through; what os-release said is kept.
        let d = run(&[
            (
                "/etc/os-release",
                "NAME=\"Amazon Linux\"\nVERSION_ID=\"2\"\nID=\"amzn\"\nPRETTY_NAME=\"Amazon Linux 2\"\n",
            ),
            ("/etc/system-release", "Amazon Linux release 2 (Karoo)\n"),
        ]);
        assert_eq!(summary(&d), (None, Some("Amazon Linux 2"), Some((2, 0))));
        let d = run(&[("/etc/br-version", "2023.02\n")]);
        assert_eq!(
            summary(&d),
            (Some("buildroot"), Some("2023.02"), Some((2023, 2)))
        );
        let d = run(&[
            ("/etc/br-version", "2015.05\n"),
            ("/usr/share/cirros/logo", "x"),
        ]);
        assert_eq!(d.distro, Some("cirros"));
        let d = run(&[(
            "/etc/lsb-release",
            "DISTRIB_ID=LinuxMint\nDISTRIB_RELEASE=10\nDISTRIB_DESCRIPTION=\"Linux Mint 10 Julia\"\n",
        )]);
        assert_eq!(
            summary(&d),
            (
                Some("linuxmint"),
                Some("Linux Mint 10 Julia"),
                Some((10, 0))
            )
        );
        let d = run(&[(
            "/etc/os-release",
            "ID=neokylin\nVERSION_ID=\"V7Update6\"\nPRETTY_NAME=\"NeoKylin\"\n",
        )]);
        assert_eq!(d.version, Some((7, 6)));
    }

    #[test]
    fn hostile_release_files() {
        // Huge files are not read; odd bytes and quotes do not panic.
        let big = "A".repeat((SMALL_FILE + 1) as usize);
        let d = run(&[
            ("/etc/os-release", big.as_str()),
            ("/etc/alpine-release", "3.18.4\n"),
        ]);
        assert_eq!(
            summary(&d),
            (Some("alpinelinux"), Some("3.18.4"), Some((3, 18)))
        );
        for s in [
            "\"",
            "'",
            "\"\\",
            "=",
            "ID",
            "PRETTY_NAME=\"\\\"",
            "\u{0}=\u{0}",
            "VERSION_ID=.\n",
        ] {
            let mut d = Data::default();
            parse_os_release(s, &mut d);
            parse_lsb_release(s, &mut d);
            parse_suse_release(s, &mut d);
            for r in [
                Rex::Update("A"),
                Rex::MajorMinor(""),
                Rex::OpenMandriva,
                Rex::TencentOs,
                Rex::Pld,
            ] {
                let _ = r.captures(s);
            }
        }
        assert_eq!(shell_unquote("\"a\\\"b\\\\c\""), "a\"b\\c");
        assert_eq!(shell_unquote("'x'"), "x");
        assert_eq!(simple_unquote("\""), "\"");
    }
}
