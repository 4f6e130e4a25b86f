//! The command table: every command's name (as guestfish names it), aliases,
//! arguments, one-line summary, help text and handler; lookup as guestfish does it
//! (any case, `_` or `-`), the nearest names for a command that does not exist,
//! and the `help` texts.

use super::args::{Arg, Args, synopsis};
use super::commands;
use super::error::CliError;
use super::shell::Shell;
use super::value::Value;

/// What runs a command.
pub type Handler = fn(&mut Shell, &Args) -> Result<Value, CliError>;

/// One command.
pub struct CommandSpec {
    /// The name, with dashes (`part-add`).
    pub name: &'static str,
    /// Other names it answers to (`add`, `run`, ...).
    pub aliases: &'static [&'static str],
    /// Required arguments.
    pub args: &'static [Arg],
    /// Optional `name:value` arguments.
    pub optargs: &'static [Arg],
    /// Takes any number of words (`echo`); `args`/`optargs` are then empty and
    /// the handler gets the words as one list.
    pub variadic: bool,
    /// One line, for `help`.
    pub summary: &'static str,
    /// What it does, for `help CMD`.
    pub help: &'static str,
    /// The implementation.
    pub handler: Handler,
}

impl std::fmt::Debug for CommandSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandSpec")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl CommandSpec {
    /// The libguestfs call name (`part_add`), as errors name it.
    pub fn call_name(&self) -> String {
        self.name.replace('-', "_")
    }

    /// `help CMD`'s text.
    pub fn help_text(&self) -> String {
        let syn = if self.variadic {
            format!("{} [args...]", self.name)
        } else {
            synopsis(self.name, self.args, self.optargs)
        };
        let mut s = format!(
            "NAME\n    {} - {}\n\nSYNOPSIS\n     {syn}\n\nDESCRIPTION\n",
            self.name, self.summary
        );
        for para in self.help.split("\n\n") {
            s.push_str(&wrap(para.trim(), 4, 76));
            s.push('\n');
        }
        if self.args.iter().any(|a| {
            matches!(
                a.kind,
                super::args::ArgKind::FileIn | super::args::ArgKind::FileOut
            )
        }) {
            s.push_str("    Use - instead of a filename to read/write from stdin/stdout.\n\n");
        }
        if !self.optargs.is_empty() {
            s.push_str("    Optional arguments are written name:value.\n\n");
        }
        if !self.aliases.is_empty() {
            let a: Vec<String> = self.aliases.iter().map(|a| format!("'{a}'")).collect();
            s.push_str(&format!(
                "    You can use {} as an alias for this command.\n\n",
                a.join(" or ")
            ));
        }
        s
    }
}

/// Re-flow a paragraph to `width` columns with `indent` spaces; lines starting
/// with a blank (examples) are kept as they are.
fn wrap(para: &str, indent: usize, width: usize) -> String {
    let pad = " ".repeat(indent);
    if para.lines().any(|l| l.starts_with(' ')) {
        return para.lines().map(|l| format!("{pad}{l}\n")).collect();
    }
    let mut out = String::new();
    let mut line = String::new();
    for word in para.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > width {
            out.push_str(&format!("{pad}{line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{pad}{line}\n"));
    }
    out
}

/// Every command, sorted by name.
pub fn all() -> Vec<&'static CommandSpec> {
    let mut v: Vec<&'static CommandSpec> =
        commands::FAMILIES.iter().flat_map(|f| f.iter()).collect();
    v.sort_by_key(|c| c.name);
    v
}

fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// The command called `name` (any case, `_` or `-`, or an alias).
///
/// ```
/// let c = vmcraft::cli::table::lookup("PART_ADD").unwrap();
/// assert_eq!(c.name, "part-add");
/// assert_eq!(vmcraft::cli::table::lookup("run").unwrap().name, "launch");
/// assert!(vmcraft::cli::table::lookup("part-ad").is_none());
/// ```
pub fn lookup(name: &str) -> Option<&'static CommandSpec> {
    let n = normalize(name);
    commands::FAMILIES
        .iter()
        .flat_map(|f| f.iter())
        .find(|c| c.name == n || c.aliases.contains(&n.as_str()))
}

/// Edit distance between two names.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The commands whose names are nearest to `name` (at most three, only close
/// ones; names that start with it come first).
///
/// ```
/// assert_eq!(vmcraft::cli::table::suggest("part-ad"), ["part-add"]);
/// assert!(vmcraft::cli::table::suggest("zzzzzzzz").is_empty());
/// ```
pub fn suggest(name: &str) -> Vec<&'static str> {
    let n = normalize(name);
    let mut scored: Vec<(usize, &'static str)> = Vec::new();
    for c in all() {
        for cand in std::iter::once(c.name).chain(c.aliases.iter().copied()) {
            let d = distance(&n, cand);
            let limit = (n.chars().count() / 3).clamp(1, 3);
            if d <= limit {
                scored.push((d, c.name));
            }
        }
    }
    scored.sort();
    let mut out: Vec<&'static str> = Vec::new();
    for (_, name) in scored {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out.truncate(3);
    out
}

/// `help`: every command with its summary.
pub fn list_text() -> String {
    let mut s = format!("    {:<16}     {}\n", "Command", "Description");
    s.push_str(&format!(
        "{:<20} {}\n",
        "help", "display a list of commands or help on a command"
    ));
    s.push_str(&format!("{:<20} {}\n", "quit", "quit vmcraft"));
    for c in all() {
        if c.name == "help" || c.name == "quit" {
            continue;
        }
        s.push_str(&format!("{:<20} {}\n", c.name, c.summary));
    }
    s.push_str("    Use -h <cmd> / help <cmd> to show detailed help for a command.\n");
    s
}

/// The error for a command that does not exist, with the nearest names.
pub fn unknown(name: &str, first: bool) -> CliError {
    let mut msg = "unknown command".to_string();
    let near = suggest(name);
    if !near.is_empty() {
        msg.push_str(&format!(" (did you mean {}?)", near.join(", ")));
    } else if first && (name.contains('.') || name.contains('/')) {
        msg.push_str(" (to open a disk image: vmcraft -a disk.img; commands: vmcraft help)");
    } else {
        msg.push_str(" (vmcraft help lists the commands)");
    }
    CliError::usage(name, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_are_unique_and_lower_case_with_dashes() {
        let mut seen = std::collections::HashSet::new();
        for c in all() {
            for n in std::iter::once(c.name).chain(c.aliases.iter().copied()) {
                assert!(seen.insert(n), "{n} defined twice");
                assert!(
                    n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                    "{n}"
                );
            }
            assert!(!c.summary.is_empty() && !c.help.is_empty(), "{}", c.name);
            assert!(!c.summary.ends_with('.'), "{}", c.name);
            if c.variadic {
                assert!(c.args.is_empty() && c.optargs.is_empty(), "{}", c.name);
            }
        }
    }

    #[test]
    fn lookup_ignores_case_and_underscores() {
        for n in ["part-list", "part_list", "Part-List", "PART_LIST"] {
            assert_eq!(lookup(n).unwrap().name, "part-list", "{n}");
        }
        assert_eq!(lookup("add").unwrap().name, "add-drive");
        assert_eq!(lookup("add-ro").unwrap().name, "add-drive-ro");
        assert_eq!(lookup("unmount-all").unwrap().name, "umount-all");
    }

    #[test]
    fn suggestions_are_near() {
        assert_eq!(suggest("part-lst"), ["part-list"]);
        assert_eq!(suggest("mkfss")[0], "mkfs");
        assert!(suggest("list-filesystem").contains(&"list-filesystems"));
        assert!(suggest("tarout").contains(&"tar-out"));
        let e = unknown("part-lst", false).to_string();
        assert_eq!(e, "part-lst: unknown command (did you mean part-list?)");
        let e = unknown("disk.img", true).to_string();
        assert!(e.contains("vmcraft -a disk.img"), "{e}");
    }

    #[test]
    fn help_texts() {
        let h = lookup("part-add").unwrap().help_text();
        assert!(h.starts_with("NAME\n    part-add - "), "{h}");
        assert!(
            h.contains("SYNOPSIS\n     part-add device prlogex startsect endsect\n"),
            "{h}"
        );
        let h = lookup("tar-out").unwrap().help_text();
        assert!(h.contains("[compress:..]"), "{h}");
        assert!(h.contains("Use - instead of a filename"), "{h}");
        let l = list_text();
        assert!(l.contains(&format!(
            "{:<20} {}\n",
            "part-add",
            lookup("part-add").unwrap().summary
        )));
        for line in l.lines().skip(1) {
            assert!(line.len() < 120, "{line}");
        }
    }

    #[test]
    fn distance_is_levenshtein() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("same", "same"), 0);
    }
}
