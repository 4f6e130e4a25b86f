//! The command line's commands that hand guest content to a host program or
//! expand guest names: `edit` (`vi`, `emacs`), `more` (`less`), `display`,
//! `glob` and `supported`. A host program only ever sees a private copy of the
//! guest file (mode 0600, under the temp directory), never a guest path: an edit
//! is written back with the file's mode and owner and renamed over the original,
//! as guestfish does.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{FishCommand, TempFile, cmd};
use crate::error::CliError;
use crate::shell::Shell;
use vmcraft::calls::table::{ArgKind, Args, Ret, Value, arg};

pub(crate) const COMMANDS: &[FishCommand] = &[
    cmd(
        "edit",
        &[arg("filename", ArgKind::Path)],
        Ret::Unit,
        "edit a file",
        "Copy a guest file out to a private temporary file, run $EDITOR on it (vi by \
         default; vi and emacs as the commands of those names), and, when it changed, \
         write it back: to a new file beside the original with the original's mode and \
         owner, renamed over it. An unchanged file is left alone.",
        edit,
    )
    .alias(&["vi", "emacs"]),
    cmd(
        "more",
        &[arg("filename", ArgKind::Path)],
        Ret::Unit,
        "view a file",
        "Show a guest file with $PAGER (more by default; less as the command of that \
         name), from a private temporary copy.",
        more,
    )
    .alias(&["less"]),
    cmd(
        "display",
        &[arg("filename", ArgKind::Path)],
        Ret::Unit,
        "display an image",
        "Show a guest image file with $GUESTFISH_DISPLAY_IMAGE (display by default), from \
         a private temporary copy.",
        display,
    ),
    cmd(
        "glob",
        &[],
        Ret::Unit,
        "expand wildcards in command",
        "glob CMD ARGS ... expands the wildcards (*, ?, [...]) in the arguments (guest \
         paths through glob-expand, device names among the session's devices, \
         partitions and LVs) and runs CMD once for each combination. An argument that \
         matches nothing is passed as it is.",
        glob,
    )
    .variadic(),
    cmd(
        "supported",
        &[],
        Ret::Unit,
        "list supported groups of commands",
        "Each group of optional commands (as available-all-groups lists them) with yes \
         or no: whether this host can do it.",
        supported,
    ),
];

/// Copy guest `path` to a private host file.
fn fetch(s: &Shell, command: &str, path: &str) -> Result<TempFile, CliError> {
    let t = TempFile::new(command)?;
    s.g.download(path, t.path())
        .map_err(|e| CliError::call(command, e))?;
    Ok(t)
}

/// Run `program "$file"` through the shell, with the terminal.
fn run_on(command: &str, program: &str, file: &Path) -> Result<(), CliError> {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{program} \"$1\""))
        .arg("sh")
        .arg(file)
        .status()
        .map_err(|e| CliError::io(command, program.to_string(), e))?;
    if !status.success() {
        return Err(CliError::usage(
            command,
            format!("{program} failed ({status})"),
        ));
    }
    Ok(())
}

fn program(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn edit(s: &mut Shell, a: &Args) -> Result<Value, CliError> {
    let path = a.str(0);
    let c = |e| CliError::call("edit", e);
    let t = fetch(s, "edit", path)?;
    let before = std::fs::metadata(t.path())
        .map_err(|e| CliError::io("edit", t.path().display().to_string(), e))?;
    let editor = program("EDITOR", "vi");
    run_on("edit", &editor, t.path())?;
    let after = std::fs::metadata(t.path())
        .map_err(|e| CliError::io("edit", t.path().display().to_string(), e))?;
    if (after.mtime(), after.mtime_nsec(), after.len())
        == (before.mtime(), before.mtime_nsec(), before.len())
        && std::fs::read(t.path()).ok() == s.g.read_file(path).ok()
    {
        return Ok(Value::Unit);
    }
    // Write the new content beside the original, give it the original's mode
    // and owner, and rename it over the original.
    let st = s.g.stat(path).map_err(c)?;
    let (dir, name) = match path.rsplit_once('/') {
        Some(("", n)) => ("/".to_string(), n),
        Some((d, n)) => (d.to_string(), n),
        None => (".".to_string(), path),
    };
    // A new file, made exclusively (never through a name a guest planted): a
    // random suffix, O_CREAT|O_EXCL|O_NOFOLLOW in the confined parent.
    let root = s.g.guest_root().map_err(c)?;
    let mut made = None;
    for _ in 0..16 {
        let candidate = format!(
            "{}/.{name}.vmcraft-edit-{:016x}",
            dir.trim_end_matches('/'),
            random_u64()
        );
        match root.open_write(&candidate, vmcraft_archive::WriteMode::CreateNew, 0o600) {
            Ok(f) => {
                made = Some((candidate, f));
                break;
            }
            Err(e) if e.kind() == vmcraft_archive::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(c(e.into())),
        }
    }
    let Some((new, mut file)) = made else {
        return Err(CliError::usage("edit", "no free name for the edited copy"));
    };
    let copied = std::fs::File::open(t.path())
        .and_then(|mut src| std::io::copy(&mut src, &mut file))
        .and_then(|_| file.sync_all());
    drop(file);
    if let Err(e) = copied {
        let _ = s.g.rm_f(&new);
        return Err(CliError::io("edit", new, e));
    }
    let finish = || -> vmcraft::Result<()> {
        s.g.chmod((st.mode & 0o7777) as u32, &new)?;
        s.g.chown(st.uid as i32, st.gid as i32, &new)?;
        s.g.mv(&new, path)
    };
    if let Err(e) = finish() {
        let _ = s.g.rm_f(&new);
        return Err(c(e));
    }
    Ok(Value::Unit)
}

fn more(s: &mut Shell, a: &Args) -> Result<Value, CliError> {
    let t = fetch(s, "more", a.str(0))?;
    run_on("more", &program("PAGER", "more"), t.path())?;
    Ok(Value::Unit)
}

fn display(s: &mut Shell, a: &Args) -> Result<Value, CliError> {
    let t = fetch(s, "display", a.str(0))?;
    run_on(
        "display",
        &program("GUESTFISH_DISPLAY_IMAGE", "display"),
        t.path(),
    )?;
    Ok(Value::Unit)
}

/// 64 random bits from the kernel (for a name nobody can guess).
fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut b);
    }
    u64::from_ne_bytes(b) ^ u64::from(std::process::id())
}

/// Whether path `name` matches the shell pattern `pat` component by component
/// (`/` matched only by `/`), with the fnmatch glob-expand uses.
pub(crate) fn path_match(pat: &[u8], name: &[u8]) -> bool {
    let p: Vec<&[u8]> = pat.split(|&b| b == b'/').collect();
    let n: Vec<&[u8]> = name.split(|&b| b == b'/').collect();
    p.len() == n.len()
        && p.iter()
            .zip(&n)
            .all(|(p, n)| vmcraft::calls::filemod::fnmatch(p, n))
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The expansions of one argument.
fn expand(s: &Shell, word: &str) -> Result<Vec<String>, CliError> {
    if !has_wildcard(word) {
        return Ok(vec![word.to_string()]);
    }
    let found: Vec<String> = if word.starts_with("/dev/") {
        let mut names = s.g.list_devices().unwrap_or_default();
        names.extend(s.g.list_partitions().unwrap_or_default());
        names.extend(s.g.lvs().unwrap_or_default());
        names
            .into_iter()
            .filter(|n| path_match(word.as_bytes(), n.as_bytes()))
            .collect()
    } else if word.starts_with('/') {
        s.g.glob_expand(word, None)
            .map_err(|e| CliError::call("glob", e))?
    } else {
        Vec::new()
    };
    Ok(if found.is_empty() {
        vec![word.to_string()]
    } else {
        found
    })
}

fn glob(s: &mut Shell, a: &Args) -> Result<Value, CliError> {
    let words: Vec<String> = a.list(0).iter().map(|w| w.to_string()).collect();
    let Some((name, rest)) = words.split_first() else {
        return Err(CliError::usage(
            "glob",
            "glob CMD [ARGS ...]: no command given",
        ));
    };
    let mut combos: Vec<Vec<String>> = vec![Vec::new()];
    for w in rest {
        let options = expand(s, w)?;
        let mut next = Vec::with_capacity(combos.len() * options.len());
        for c in &combos {
            for o in &options {
                let mut c = c.clone();
                c.push(o.clone());
                next.push(c);
            }
        }
        if next.len() > 100_000 {
            return Err(CliError::usage(
                "glob",
                "more than 100000 combinations: narrow the patterns",
            ));
        }
        combos = next;
    }
    let mut out = Vec::new();
    let mut first_err = None;
    for c in combos {
        match s.dispatch(name, &c) {
            Ok(v) => out.extend(v.guestfish()),
            Err(e) => {
                eprintln!("vmcraft: error: {}", e.chain());
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        None => Ok(Value::Bytes(out)),
        Some(_) => Ok(Value::Incomplete(
            Box::new(Value::Bytes(out)),
            "the command failed for some of the expansions".into(),
        )),
    }
}

fn supported(s: &mut Shell, _: &Args) -> Result<Value, CliError> {
    let groups =
        s.g.available_all_groups()
            .map_err(|e| CliError::call("supported", e))?;
    let width = groups.iter().map(|g| g.len()).max().unwrap_or(0);
    let mut out = String::new();
    for g in &groups {
        let yes = s.g.available(&[g.as_str()]).is_ok();
        out.push_str(&format!("{g:>width$} {}\n", if yes { "yes" } else { "no" }));
    }
    Ok(Value::Bytes(out.into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::path_match;

    #[test]
    fn shell_patterns_match_as_fnmatch_with_pathname() {
        for (p, n, want) in [
            ("/dev/sd*", "/dev/sda1", true),
            ("/dev/sd?", "/dev/sda", true),
            ("/dev/sd?", "/dev/sda1", false),
            ("/dev/sda[12]", "/dev/sda2", true),
            ("/dev/sda[!12]", "/dev/sda2", false),
            ("/dev/sda[1-3]", "/dev/sda3", true),
            ("/dev/*", "/dev/vg/lv", false),
            ("/dev/*/*", "/dev/vg/lv", true),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
        ] {
            assert_eq!(path_match(p.as_bytes(), n.as_bytes()), want, "{p} {n}");
        }
    }
}
