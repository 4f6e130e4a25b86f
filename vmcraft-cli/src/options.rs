//! The command line's options, parsed as guestfish's getopt does: short options
//! that cluster (`-ix`), long options with `=` or a separate value, `--format`
//! applying to the `-a` options that follow it, `--ro` applying to every `-a` image
//! wherever it stands (guestfish adds the drives only once all options are read),
//! and the first word that is not an option starting the commands.

use std::path::PathBuf;

use vmcraft_nbd::Format;

use super::error::CliError;
use super::prepared::PrepSpec;

/// A drive to add, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriveSpec {
    /// `-a IMAGE`, with the `--format` in force where it was given and the
    /// command line's `--ro`.
    Image {
        /// The image file or block device.
        path: PathBuf,
        /// `--format=FMT`; `None` detects it.
        format: Option<Format>,
        /// `--ro` anywhere on the command line.
        readonly: bool,
    },
    /// `-N [FILE=]SPEC`: a prepared disk made in `path`.
    Prepared {
        /// The file to create (`testN.img` by default).
        path: PathBuf,
        /// What to put on it.
        spec: PrepSpec,
    },
}

/// `-m DEV[:MOUNTPOINT[:OPTIONS[:FSTYPE]]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// The device (`/dev/sda1`).
    pub device: String,
    /// Where in the guest (`/` by default).
    pub mountpoint: String,
    /// Mount options; `None` mounts read-write, or read-only on a `--ro` drive.
    pub options: Option<String>,
    /// The filesystem type; `None` probes it.
    pub fstype: Option<String>,
}

/// What the command line asks for besides running commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    /// Add the drives and run the commands.
    #[default]
    Run,
    /// `-h`/`--help` without a command: the usage text.
    Usage,
    /// `-V`/`--version`.
    Version,
    /// `-N help`: the list of prepared disk types.
    PreparedHelp,
}

/// Everything on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// What to do.
    pub action: Action,
    /// `-a` and `-N`, in order (drive names follow this order).
    pub drives: Vec<DriveSpec>,
    /// `-m`, in order.
    pub mounts: Vec<MountSpec>,
    /// `-i`: inspect and mount the guest's filesystems.
    pub inspector: bool,
    /// `--json`: one JSON document per command.
    pub json: bool,
    /// `--kernel-mounts`: read-only drives are attached and mounted by the
    /// kernel too, never read in-process (see `vmcraft::Config::inprocess_reads`).
    pub kernel_mounts: bool,
    /// `--keys-from-stdin`: keys are read from standard input, one a line,
    /// not from the terminal.
    pub keys_from_stdin: bool,
    /// `-x`: echo each command to standard error before running it.
    pub trace: bool,
    /// `-v`: debug logging on standard error.
    pub verbose: bool,
    /// `-f SCRIPT`.
    pub script: Option<PathBuf>,
    /// The commands after the options, `:`-separated.
    pub commands: Vec<String>,
    /// `-h CMD`: help on one command.
    pub help_command: Option<String>,
}

/// The usage text of `vmcraft --help`.
pub const USAGE: &str = "\
vmcraft: the guestfish-compatible VMCraft shell

usage: vmcraft [--format[=FMT]] [--ro|--rw] [-a IMAGE]... [-N [FILE=]SPEC]...
               [-m DEV[:MOUNTPOINT[:OPTIONS[:FSTYPE]]]]... [-i] [--json] [-x] [-v]
               [--kernel-mounts] [--keys-from-stdin]
               [-f SCRIPT | COMMAND ARGS... [: COMMAND ARGS...]...]

options:
  -a, --add IMAGE      add a disk image (drives are /dev/sda, /dev/sdb, ... in order)
  --format=FMT         the format of the -a images after it (raw, qcow2, vmdk, vhdx,
                       vdi, vpc); --format alone goes back to detecting it
  -r, --ro             add every -a image read-only, wherever --ro stands
                       (-N disks stay read-write)
  -w, --rw             add the -a images read-write (the default); refused
                       after --ro
  -N, --new [FILE=]SPEC
                       make a prepared disk (disk, part, fs, lv, lvfs, bootroot,
                       bootrootlv); '-N help' lists them
  -m, --mount DEV[:MP[:OPTS[:FSTYPE]]]
                       mount DEV on MP (default /) after launching
  -i, --inspector      inspect the disks and mount the guest's filesystems
  -f, --file SCRIPT    read commands from SCRIPT (default: standard input)
  --json               print each command's result as one JSON document
  --kernel-mounts      attach and mount read-only drives with the kernel too (by
                       default a read-only raw or qcow2 drive is read in-process:
                       ext2/3/4, FAT and NTFS need no root and no kernel mount)
  --keys-from-stdin    read keys (luks-open's key, ...) from standard input, one
                       a line, instead of asking on the terminal
  -x, --trace          echo each command on standard error before running it
  -v, --verbose        debug logging on standard error
  -h, --help [CMD]     this text, or help on CMD
  -V, --version        the version

Commands on the command line are separated by ':'. Without commands or -f, they
are read from standard input, one a line. 'vmcraft help' lists every command.
";

fn take_value(
    opt: &str,
    inline: Option<String>,
    rest: &mut std::slice::Iter<'_, String>,
) -> Result<String, CliError> {
    match inline {
        Some(v) => Ok(v),
        None => rest
            .next()
            .cloned()
            .ok_or_else(|| CliError::usage(opt, "option requires an argument")),
    }
}

/// Parse the arguments after the program name.
///
/// ```
/// use vmcraft_cli::options::{parse_options, DriveSpec};
/// let argv: Vec<String> = ["-a", "a.img", "--format=qcow2", "-a", "b.qcow2", "--ro", "-i", "run", ":", "lvs"]
///     .map(String::from).to_vec();
/// let o = parse_options(&argv).unwrap();
/// // --ro is global, as in guestfish; --format applies to the images after it.
/// assert!(matches!(&o.drives[0], DriveSpec::Image { readonly: true, format: None, .. }));
/// assert!(matches!(&o.drives[1], DriveSpec::Image { readonly: true, format: Some(_), .. }));
/// assert!(o.inspector);
/// assert_eq!(o.commands, ["run", ":", "lvs"]);
/// ```
pub fn parse_options(argv: &[String]) -> Result<Options, CliError> {
    let mut o = Options::default();
    let mut format: Option<Format> = None;
    let mut readonly = false;
    let mut prepared = 0usize;
    let mut it = argv.iter();
    while let Some(word) = it.next() {
        // (option name for messages, option letter or long name, inline value)
        let (name, inline): (String, Option<String>) = if word == "--" {
            o.commands.extend(it.by_ref().cloned());
            break;
        } else if let Some(long) = word.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (long.to_string(), None),
            }
        } else if word.len() > 1 && word.starts_with('-') {
            // A cluster of short options: flags, then at most one that takes a
            // value (the rest of the word or the next word).
            let letters: Vec<char> = word[1..].chars().collect();
            let mut i = 0;
            let mut last = None;
            while i < letters.len() {
                let c = letters[i];
                match c {
                    'a' | 'm' | 'N' | 'f' => {
                        let tail: String = letters[i + 1..].iter().collect();
                        last = Some((c.to_string(), (!tail.is_empty()).then_some(tail)));
                        break;
                    }
                    'h' => {
                        // `-h` takes an optional command, but only joined (`-hmount`)
                        // or as the next word when it is not an option.
                        let tail: String = letters[i + 1..].iter().collect();
                        last = Some(("h".into(), (!tail.is_empty()).then_some(tail)));
                        break;
                    }
                    'i' | 'x' | 'v' | 'r' | 'w' | 'V' => {
                        apply_flag(&mut o, &mut readonly, &c.to_string())?;
                    }
                    _ => {
                        return Err(CliError::usage(
                            format!("-{c}"),
                            "unknown option (see vmcraft --help)",
                        ));
                    }
                }
                i += 1;
            }
            match last {
                None => continue,
                Some((n, v)) => (n, v),
            }
        } else {
            o.commands.push(word.clone());
            o.commands.extend(it.by_ref().cloned());
            break;
        };
        let shown = if name.len() == 1 {
            format!("-{name}")
        } else {
            format!("--{name}")
        };
        match name.as_str() {
            "a" | "add" => {
                let v = take_value(&shown, inline, &mut it)?;
                // `readonly` is filled in once every option is read.
                o.drives.push(DriveSpec::Image {
                    path: PathBuf::from(v),
                    format,
                    readonly: false,
                });
            }
            "format" => {
                format = match inline.as_deref() {
                    None | Some("") => None,
                    Some(f) => Some(f.parse::<Format>().map_err(|_| {
                        CliError::usage(
                            "--format",
                            format!("unknown image format '{f}' (expected raw, qcow2, vmdk, vhdx, vdi or vpc)"),
                        )
                    })?),
                };
            }
            "m" | "mount" => {
                let v = take_value(&shown, inline, &mut it)?;
                o.mounts.push(parse_mount(&v)?);
            }
            "N" | "new" => {
                let v = take_value(&shown, inline, &mut it)?;
                if v.eq_ignore_ascii_case("help") {
                    o.action = Action::PreparedHelp;
                    continue;
                }
                prepared += 1;
                let (path, spec) = match v.split_once('=') {
                    Some((file, spec)) if !file.is_empty() => (PathBuf::from(file), spec),
                    Some(_) => {
                        return Err(CliError::usage("-N", format!("'{v}': empty file name")));
                    }
                    None => (PathBuf::from(format!("test{prepared}.img")), v.as_str()),
                };
                o.drives.push(DriveSpec::Prepared {
                    path,
                    spec: PrepSpec::parse(spec)?,
                });
            }
            "f" | "file" => {
                let v = take_value(&shown, inline, &mut it)?;
                if o.script.is_some() {
                    return Err(CliError::usage("-f", "only one script can be given"));
                }
                o.script = Some(PathBuf::from(v));
            }
            "h" | "help" => {
                o.action = Action::Usage;
                o.help_command = inline;
            }
            "json" => o.json = true,
            "kernel-mounts" => o.kernel_mounts = true,
            "keys-from-stdin" => o.keys_from_stdin = true,
            "trace" | "inspector" | "verbose" | "ro" | "rw" | "version" => {
                if inline.is_some() {
                    return Err(CliError::usage(shown, "option takes no value"));
                }
                let letter = match name.as_str() {
                    "trace" => "x",
                    "inspector" => "i",
                    "verbose" => "v",
                    "ro" => "r",
                    "rw" => "w",
                    _ => "V",
                };
                apply_flag(&mut o, &mut readonly, letter)?;
            }
            _ => {
                return Err(CliError::usage(
                    shown,
                    "unknown option (see vmcraft --help)",
                ));
            }
        }
    }
    if o.script.is_some() && !o.commands.is_empty() {
        return Err(CliError::usage(
            "-f",
            "a script and commands on the command line cannot be combined",
        ));
    }
    // Keys and commands cannot share standard input: the command reader reads
    // ahead, and would take (and might run, or echo in an error) a key line.
    let commands_from_stdin =
        o.commands.is_empty() && o.script.as_ref().is_none_or(|p| p.as_os_str() == "-");
    if o.keys_from_stdin && o.action == Action::Run && commands_from_stdin {
        return Err(CliError::usage(
            "--keys-from-stdin",
            "keys come from standard input, so the commands must not: give them on \
             the command line or in a script (-f FILE)",
        ));
    }
    // guestfish adds its drives after reading every option, so `--ro` anywhere
    // makes every `-a` image read-only (`-N` disks are made to be written).
    for d in &mut o.drives {
        if let DriveSpec::Image { readonly: ro, .. } = d {
            *ro = readonly;
        }
    }
    Ok(o)
}

fn apply_flag(o: &mut Options, readonly: &mut bool, letter: &str) -> Result<(), CliError> {
    match letter {
        "i" => o.inspector = true,
        "x" => o.trace = true,
        "v" => o.verbose = true,
        "r" => *readonly = true,
        // guestfish's --rw only checks that --ro did not come first: read-write is
        // the default, and `--rw --ro` is read-only.
        "w" if *readonly => {
            return Err(CliError::usage("--rw", "cannot mix --ro and --rw options"));
        }
        "w" => {}
        "V" => o.action = Action::Version,
        _ => unreachable!("only flags are applied"),
    }
    Ok(())
}

/// `DEV[:MOUNTPOINT[:OPTIONS[:FSTYPE]]]`.
fn parse_mount(v: &str) -> Result<MountSpec, CliError> {
    let mut parts = v.splitn(4, ':');
    let device = parts.next().unwrap_or_default().to_string();
    if device.is_empty() {
        return Err(CliError::usage("-m", format!("'{v}': no device")));
    }
    let mountpoint = match parts.next() {
        None | Some("") => "/".to_string(),
        Some(mp) if mp.starts_with('/') => mp.to_string(),
        Some(mp) => {
            return Err(CliError::usage(
                "-m",
                format!("'{v}': mount point '{mp}' is not an absolute path"),
            ));
        }
    };
    let options = parts.next().map(String::from);
    let fstype = parts.next().filter(|s| !s.is_empty()).map(String::from);
    Ok(MountSpec {
        device,
        mountpoint,
        options,
        fstype,
    })
}

/// Split command-line words into commands at `:` words.
///
/// ```
/// use vmcraft_cli::options::split_commands;
/// let w: Vec<String> = ["run", ":", "mount", "/dev/sda1", "/"].map(String::from).to_vec();
/// assert_eq!(split_commands(&w).unwrap(), vec![vec!["run".to_string()], vec!["mount".into(), "/dev/sda1".into(), "/".into()]]);
/// ```
pub fn split_commands(words: &[String]) -> Result<Vec<Vec<String>>, CliError> {
    let mut out = Vec::new();
    for group in words.split(|w| w == ":") {
        if group.is_empty() {
            return Err(CliError::usage(":", "empty command on command line"));
        }
        out.push(group.to_vec());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(w: &[&str]) -> Result<Options, CliError> {
        parse_options(&w.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn image(d: &DriveSpec) -> (&std::path::Path, Option<Format>, bool) {
        match d {
            DriveSpec::Image {
                path,
                format,
                readonly,
            } => (path, *format, *readonly),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn format_applies_to_the_images_after_it_and_ro_to_every_image() {
        let o = parse(&[
            "-a",
            "1.img",
            "--format=qcow2",
            "-a",
            "2.qcow2",
            "--format",
            "-a",
            "3.img",
            "--ro",
            "--add=4.img",
            "-N",
            "fs:ext4:10M",
        ])
        .unwrap();
        let d: Vec<_> = o.drives[..4].iter().map(image).collect();
        assert_eq!(d[0], (std::path::Path::new("1.img"), None, true));
        assert_eq!(
            d[1],
            (std::path::Path::new("2.qcow2"), Some(Format::Qcow2), true)
        );
        assert_eq!(d[2], (std::path::Path::new("3.img"), None, true));
        assert_eq!(d[3], (std::path::Path::new("4.img"), None, true));
        assert!(matches!(o.drives[4], DriveSpec::Prepared { .. }));
        assert!(o.commands.is_empty());
    }

    #[test]
    fn ro_after_the_drives_still_makes_them_read_only() {
        for argv in [
            &["-a", "disk.img", "--ro", "run"][..],
            &["-a", "disk.img", "-r", "run"][..],
            &["-a", "disk.img", "-ir", "run"][..],
            &["--ro", "-a", "disk.img", "run"][..],
            // As guestfish: --rw only refuses to follow --ro; --rw --ro is read-only.
            &["--rw", "-a", "disk.img", "--ro", "run"][..],
            &["-w", "-a", "disk.img", "-r", "run"][..],
        ] {
            let o = parse(argv).unwrap();
            assert!(image(&o.drives[0]).2, "{argv:?}");
            assert_eq!(o.commands, ["run"], "{argv:?}");
        }
        for argv in [
            &["-a", "disk.img", "run"][..],
            &["--rw", "-a", "disk.img", "run"][..],
            &["-a", "disk.img", "-w", "run"][..],
        ] {
            assert!(!image(&parse(argv).unwrap().drives[0]).2, "{argv:?}");
        }
        // A --ro among the commands is a command word, not an option.
        let o = parse(&["-a", "disk.img", "run", ":", "echo", "--ro"]).unwrap();
        assert!(!image(&o.drives[0]).2);
    }

    #[test]
    fn rw_after_ro_is_refused_as_guestfish_does() {
        for argv in [
            &["--ro", "-a", "disk.img", "--rw"][..],
            &["-a", "disk.img", "--ro", "-w"][..],
            &["-rw", "-a", "disk.img"][..],
        ] {
            let e = parse(argv).unwrap_err();
            assert_eq!(
                e.to_string(),
                "--rw: cannot mix --ro and --rw options",
                "{argv:?}"
            );
        }
    }

    #[test]
    fn short_options_cluster() {
        let o = parse(&["-ixv", "-ra", "disk.img", "-m/dev/sda1"]).unwrap();
        assert!(o.inspector && o.trace && o.verbose);
        assert_eq!(
            image(&o.drives[0]),
            (std::path::Path::new("disk.img"), None, true)
        );
        assert_eq!(o.mounts[0].device, "/dev/sda1");
        let o = parse(&["-adisk.img", "--json"]).unwrap();
        assert_eq!(image(&o.drives[0]).0, std::path::Path::new("disk.img"));
        assert!(o.json);
        assert!(!o.kernel_mounts);
        assert!(
            parse(&["--kernel-mounts", "-a", "d.img"])
                .unwrap()
                .kernel_mounts
        );
    }

    #[test]
    fn mounts_with_defaults() {
        let o = parse(&[
            "-m",
            "/dev/sda2",
            "-m",
            "/dev/sda1:/boot:ro,noatime",
            "-m",
            "/dev/sdb1:/srv::xfs",
        ])
        .unwrap();
        assert_eq!(
            o.mounts,
            [
                MountSpec {
                    device: "/dev/sda2".into(),
                    mountpoint: "/".into(),
                    options: None,
                    fstype: None
                },
                MountSpec {
                    device: "/dev/sda1".into(),
                    mountpoint: "/boot".into(),
                    options: Some("ro,noatime".into()),
                    fstype: None
                },
                MountSpec {
                    device: "/dev/sdb1".into(),
                    mountpoint: "/srv".into(),
                    options: Some("".into()),
                    fstype: Some("xfs".into())
                },
            ]
        );
        assert!(parse(&["-m", ":/x"]).is_err());
        assert!(parse(&["-m", "/dev/sda1:boot"]).is_err());
    }

    #[test]
    fn commands_start_at_the_first_word_that_is_not_an_option() {
        let o = parse(&["-a", "d.img", "run", ":", "-rm", "/x", ":", "echo", "-a"]).unwrap();
        assert_eq!(o.commands, ["run", ":", "-rm", "/x", ":", "echo", "-a"]);
        let o = parse(&["--", "-a"]).unwrap();
        assert_eq!(o.commands, ["-a"]);
        let cmds = split_commands(&o.commands).unwrap();
        assert_eq!(cmds, [vec!["-a".to_string()]]);
        assert!(split_commands(&["run".into(), ":".into()]).is_err());
        assert!(split_commands(&[":".into(), "run".into()]).is_err());
    }

    #[test]
    fn prepared_disks_get_default_names() {
        let o = parse(&[
            "-N",
            "fs:ext4:100M",
            "-a",
            "x.img",
            "-N",
            "mine.img=disk:10M",
            "--new=part",
        ])
        .unwrap();
        let names: Vec<String> = o
            .drives
            .iter()
            .map(|d| match d {
                DriveSpec::Prepared { path, .. } | DriveSpec::Image { path, .. } => {
                    path.display().to_string()
                }
            })
            .collect();
        assert_eq!(names, ["test1.img", "x.img", "mine.img", "test3.img"]);
        assert_eq!(parse(&["-N", "help"]).unwrap().action, Action::PreparedHelp);
    }

    #[test]
    fn bad_options_are_refused_with_their_name() {
        for (argv, want) in [
            (&["-q"][..], "-q: unknown option"),
            (&["--bogus"][..], "--bogus: unknown option"),
            (&["-a"][..], "-a: option requires an argument"),
            (
                &["--format=qcow3", "-a", "x"][..],
                "--format: unknown image format 'qcow3'",
            ),
            (
                &["-N", "floppy"][..],
                "-N: 'floppy': no such prepared disk type",
            ),
            (&["--ro=yes"][..], "--ro: option takes no value"),
            (&["-f", "a", "-f", "b"][..], "-f: only one script"),
            (&["-f", "a", "run"][..], "cannot be combined"),
        ] {
            let e = parse(argv).unwrap_err();
            assert!(e.to_string().contains(want), "{argv:?}: {e}");
        }
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(&["--help"]).unwrap().action, Action::Usage);
        let o = parse(&["-h", "part-add"]).unwrap();
        assert_eq!(o.action, Action::Usage);
        // `-h CMD` as two words: the command is the first command word.
        assert_eq!(o.commands, ["part-add"]);
        assert_eq!(
            parse(&["-hpart-add"]).unwrap().help_command.as_deref(),
            Some("part-add")
        );
        assert_eq!(parse(&["-V"]).unwrap().action, Action::Version);
    }
}
