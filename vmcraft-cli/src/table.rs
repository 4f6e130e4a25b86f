//! The command line's commands: every call of the [call
//! table](vmcraft::calls::table) and the command line's own commands (`help`,
//! `quit`, `echo`, `alloc`, ...); lookup as guestfish does it (any case, `_` or
//! `-`, or an alias), the nearest names for a command that does not exist, and the
//! `help` texts.

use super::commands::{self, FishCommand};
use super::error::CliError;
use vmcraft::calls::table::{self, Call};

/// A command: a call of the table, or one of the command line's own.
#[derive(Debug, Clone, Copy)]
pub enum Command {
    /// A call of the facade, run through [`Call::invoke`].
    Api(&'static Call),
    /// A command of the command line's own.
    Fish(&'static FishCommand),
}

impl Command {
    /// Its description (name, arguments, summary, help).
    pub fn call(&self) -> &'static Call {
        match self {
            Command::Api(c) => c,
            Command::Fish(f) => &f.call,
        }
    }
}

/// Every command, sorted by name.
pub fn all() -> Vec<Command> {
    let mut v: Vec<Command> = table::all().into_iter().map(Command::Api).collect();
    v.extend(
        commands::FISH
            .iter()
            .flat_map(|f| f.iter())
            .map(Command::Fish),
    );
    v.sort_by_key(|c| c.call().name);
    v
}

/// The command called `name` (any case, `_` or `-`, or an alias).
///
/// ```
/// let c = vmcraft_cli::table::lookup("PART_ADD").unwrap();
/// assert_eq!(c.call().name, "part-add");
/// assert_eq!(vmcraft_cli::table::lookup("run").unwrap().call().name, "launch");
/// assert_eq!(vmcraft_cli::table::lookup("q").unwrap().call().name, "quit");
/// assert!(vmcraft_cli::table::lookup("part-ad").is_none());
/// ```
pub fn lookup(name: &str) -> Option<Command> {
    if let Some(c) = table::lookup(name) {
        return Some(Command::Api(c));
    }
    let n = table::normalize(name);
    commands::FISH
        .iter()
        .flat_map(|f| f.iter())
        .find(|f| table::normalize(f.call.name) == n || f.call.aliases.contains(&n.as_str()))
        .map(Command::Fish)
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
/// assert_eq!(vmcraft_cli::table::suggest("part-ad"), ["part-add"]);
/// assert!(vmcraft_cli::table::suggest("zzzzzzzz").is_empty());
/// ```
pub fn suggest(name: &str) -> Vec<&'static str> {
    let n = table::normalize(name);
    let mut scored: Vec<(usize, &'static str)> = Vec::new();
    for c in all() {
        let c = c.call();
        for cand in std::iter::once(c.name).chain(c.aliases.iter().copied()) {
            let d = distance(&n, &table::normalize(cand));
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
        let c = c.call();
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
    fn names_and_aliases_are_unique_across_calls_and_commands() {
        let mut seen = std::collections::HashSet::new();
        for c in all() {
            let c = c.call();
            for n in std::iter::once(c.name).chain(c.aliases.iter().copied()) {
                assert!(seen.insert(table::normalize(n)), "{n} defined twice");
            }
        }
    }

    #[test]
    fn lookup_finds_calls_and_commands() {
        assert_eq!(lookup("add").unwrap().call().name, "add-drive");
        assert_eq!(lookup("add-ro").unwrap().call().name, "add-drive-ro");
        assert_eq!(lookup("unmount-all").unwrap().call().name, "umount-all");
        assert!(matches!(lookup("help"), Some(Command::Fish(_))));
        assert!(matches!(lookup("part-list"), Some(Command::Api(_))));
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
    fn the_list_has_every_command_on_short_lines() {
        let l = list_text();
        for c in all() {
            let c = c.call();
            assert!(
                l.contains(&format!("{:<20} {}\n", c.name, c.summary)),
                "{}",
                c.name
            );
        }
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
