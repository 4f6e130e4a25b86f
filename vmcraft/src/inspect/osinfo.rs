//! `inspect_get_osinfo`: libguestfs's guess of the libosinfo short ID
//! (`debian12`, `rhel7.9`, `ubuntu22.04`, `sle15sp5`, `win10`, ...) from the type,
//! distro and version inspection found.

/// What the guess is made from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OsinfoInput<'a> {
    /// `linux`, `windows`, ...
    pub os_type: &'a str,
    /// The distro.
    pub distro: &'a str,
    /// Major version (0 when unknown).
    pub major: i32,
    /// Minor version (0 when unknown).
    pub minor: i32,
    /// The product name (Windows: tells XP and 2003 apart, and the Server years).
    pub product_name: &'a str,
    /// The product variant (Windows: `Client` or `Server`), `unknown` elsewhere.
    pub product_variant: &'a str,
    /// The build ID (Windows 10 and 11 differ only by it), `unknown` elsewhere.
    pub build_id: &'a str,
}

/// The short ID, or `unknown` when no ID can be guessed.
pub(crate) fn osinfo(i: OsinfoInput<'_>) -> String {
    guess(i).unwrap_or_else(|| "unknown".into())
}

fn guess(i: OsinfoInput<'_>) -> Option<String> {
    let OsinfoInput {
        os_type,
        distro,
        major,
        minor,
        ..
    } = i;
    match os_type {
        "linux" => {
            match distro {
                "centos" if major >= 8 => return Some(format!("{distro}{major}")),
                "centos" if major == 7 => return Some(format!("{distro}{major}.0")),
                "centos" if major == 6 => return Some(format!("{distro}{major}.{minor}")),
                "circle" | "rocky" if major >= 8 => return Some(format!("{distro}{major}")),
                "debian" if major >= 4 => return Some(format!("{distro}{major}")),
                "fedora" | "mageia" => return Some(format!("{distro}{major}")),
                "sles" => {
                    let base = if major >= 15 { "sle" } else { "sles" };
                    return Some(if minor == 0 {
                        format!("{base}{major}")
                    } else {
                        format!("{base}{major}sp{minor}")
                    });
                }
                "ubuntu" => return Some(format!("{distro}{major}.{minor:02}")),
                "archlinux" | "gentoo" | "voidlinux" => return Some(distro.to_string()),
                "altlinux" if major >= 8 => return Some(format!("alt{major}.{minor}")),
                "altlinux" => return Some(format!("{distro}{major}.{minor}")),
                _ => {}
            }
            (distro != "unknown" && (major > 0 || minor > 0))
                .then(|| format!("{distro}{major}.{minor}"))
        }
        "freebsd" | "netbsd" | "openbsd" => Some(format!("{distro}{major}.{minor}")),
        "dos" => (distro == "msdos").then(|| "msdos6.22".to_string()),
        "windows" => windows(i),
        _ => None,
    }
}

fn windows(i: OsinfoInput<'_>) -> Option<String> {
    let server = i.product_variant.contains("Server");
    let name = i.product_name;
    let id = match (i.major, i.minor) {
        (5, 1) => "winxp",
        (5, 2) if name.contains("XP") => "winxp",
        (5, 2) if name.contains("R2") => "win2k3r2",
        (5, 2) => "win2k3",
        (6, 0) if server => "win2k8",
        (6, 0) => "winvista",
        (6, 1) if server => "win2k8r2",
        (6, 1) => "win7",
        (6, 2) if server => "win2k12",
        (6, 2) => "win8",
        (6, 3) if server => "win2k12r2",
        (6, 3) => "win8.1",
        (10, 0) if server && name.contains("2025") => "win2k25",
        (10, 0) if server && name.contains("2022") => "win2k22",
        (10, 0) if server && name.contains("2019") => "win2k19",
        (10, 0) if server => "win2k16",
        (10, 0) => {
            // Clients: only the build tells 10 from 11.
            let build: u32 = i.build_id.parse().ok()?;
            if build >= 22000 { "win11" } else { "win10" }
        }
        _ => return None,
    };
    Some(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(distro: &str, major: i32, minor: i32) -> String {
        osinfo(OsinfoInput {
            os_type: "linux",
            distro,
            major,
            minor,
            product_name: "",
            product_variant: "unknown",
            build_id: "unknown",
        })
    }

    #[test]
    fn linux_ids() {
        assert_eq!(linux("debian", 12, 7), "debian12");
        assert_eq!(linux("debian", 3, 1), "debian3.1");
        assert_eq!(linux("rhel", 7, 9), "rhel7.9");
        assert_eq!(linux("rhel", 5, 11), "rhel5.11");
        assert_eq!(linux("centos", 7, 9), "centos7.0");
        assert_eq!(linux("centos", 6, 10), "centos6.10");
        assert_eq!(linux("centos", 8, 5), "centos8");
        assert_eq!(linux("centos", 5, 11), "centos5.11");
        assert_eq!(linux("rocky", 9, 2), "rocky9");
        assert_eq!(linux("ubuntu", 22, 4), "ubuntu22.04");
        assert_eq!(linux("ubuntu", 16, 4), "ubuntu16.04");
        assert_eq!(linux("fedora", 30, 0), "fedora30");
        assert_eq!(linux("sles", 11, 4), "sles11sp4");
        assert_eq!(linux("sles", 15, 0), "sle15");
        assert_eq!(linux("sles", 15, 5), "sle15sp5");
        assert_eq!(linux("opensuse", 15, 5), "opensuse15.5");
        assert_eq!(linux("archlinux", 0, 0), "archlinux");
        assert_eq!(linux("gentoo", 2, 14), "gentoo");
        assert_eq!(linux("alpinelinux", 3, 18), "alpinelinux3.18");
        assert_eq!(linux("altlinux", 10, 1), "alt10.1");
        assert_eq!(linux("unknown", 2, 0), "unknown");
        assert_eq!(linux("redhat-based", 0, 0), "unknown");
    }

    #[test]
    fn windows_ids() {
        let w = |major, minor, name, variant, build| {
            osinfo(OsinfoInput {
                os_type: "windows",
                distro: "windows",
                major,
                minor,
                product_name: name,
                product_variant: variant,
                build_id: build,
            })
        };
        assert_eq!(w(6, 1, "Windows 7 Enterprise", "Client", "7601"), "win7");
        assert_eq!(
            w(6, 1, "Windows Server 2008 R2", "Server", "7601"),
            "win2k8r2"
        );
        assert_eq!(w(10, 0, "Windows 10 Pro", "Client", "19045"), "win10");
        assert_eq!(w(10, 0, "Windows 10 Pro", "Client", "22631"), "win11");
        assert_eq!(
            w(10, 0, "Windows Server 2022 Standard", "Server", "20348"),
            "win2k22"
        );
        assert_eq!(w(10, 0, "Windows 10 Pro", "Client", "unknown"), "unknown");
        assert_eq!(w(4, 0, "NT", "", ""), "unknown");
    }
}
