//! guestfish's script tokenizer: one command a line, `#` comments, `!` and `<!`
//! lines for the host shell, a leading `-` that lets one command fail without
//! ending the script, double-quoted arguments with C escapes, single-quoted
//! arguments taken literally, bare arguments split at blanks (a leading `~`
//! expanded to a home directory), and `| CMD` piping the output to a host command.

use std::fmt;

/// What one script line holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Nothing to do: blank, or a `#` comment.
    Empty,
    /// `!CMD`: run a host shell command.
    Shell(String),
    /// `<!CMD`: run a host shell command and execute its output as commands.
    Inline(String),
    /// A command.
    Command(ParsedCommand),
}

/// A command with its arguments, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCommand {
    /// The command name (`part-add`).
    pub name: String,
    /// The arguments, unquoted and unescaped.
    pub args: Vec<String>,
    /// False when the line started with `-`: a failure does not end the script.
    pub exit_on_error: bool,
    /// `| CMD`: a host command the output is piped to.
    pub pipe: Option<String>,
}

/// A line that cannot be tokenized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError(pub String);

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SyntaxError {}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Tokenize one script line as guestfish does.
///
/// ```
/// use vmcraft_cli::tokenizer::{parse_line, Line};
/// let Line::Command(c) = parse_line(r#"write /etc/motd "hello\nworld" "#).unwrap() else { panic!() };
/// assert_eq!(c.name, "write");
/// assert_eq!(c.args, ["/etc/motd", "hello\nworld"]);
/// assert_eq!(parse_line("  # a comment").unwrap(), Line::Empty);
/// ```
pub fn parse_line(line: &str) -> Result<Line, SyntaxError> {
    let mut rest = line.trim_start();
    let mut exit_on_error = true;
    loop {
        if rest.is_empty() || rest.starts_with('#') {
            return Ok(Line::Empty);
        }
        if let Some(cmd) = rest.strip_prefix("<!") {
            return Ok(Line::Inline(cmd.to_string()));
        }
        if let Some(cmd) = rest.strip_prefix('!') {
            return Ok(Line::Shell(cmd.to_string()));
        }
        match rest.strip_prefix('-') {
            Some(r) => {
                exit_on_error = false;
                rest = r.trim_start();
            }
            None => break,
        }
    }
    let end = rest.find(is_blank).unwrap_or(rest.len());
    let name = rest[..end].to_string();
    let mut p = rest[end..].trim_start_matches(is_blank);
    let mut args = Vec::new();
    let mut pipe = None;
    while !p.is_empty() {
        let (arg, after) = if let Some(q) = p.strip_prefix('"') {
            let (s, n) = unescape_double_quoted(q)?;
            (s, &q[n + 1..])
        } else if let Some(q) = p.strip_prefix('\'') {
            let n = q
                .find('\'')
                .ok_or_else(|| SyntaxError("unterminated single quote".into()))?;
            (q[..n].to_string(), &q[n + 1..])
        } else if let Some(cmd) = p.strip_prefix('|') {
            pipe = Some(cmd.trim().to_string());
            break;
        } else {
            let n = p.find(is_blank).unwrap_or(p.len());
            (expand_tilde(&p[..n]), &p[n..])
        };
        if !after.is_empty() && !after.starts_with(is_blank) {
            return Err(SyntaxError(
                "command arguments not separated by whitespace".into(),
            ));
        }
        args.push(arg);
        p = after.trim_start_matches(is_blank);
    }
    Ok(Line::Command(ParsedCommand {
        name,
        args,
        exit_on_error,
        pipe,
    }))
}

/// Unescape the inside of a double-quoted string up to its closing quote; returns
/// the string and the byte index of the closing quote in `s`.
fn unescape_double_quoted(s: &str) -> Result<(String, usize), SyntaxError> {
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    let bad = |i: usize| {
        SyntaxError(format!(
            "invalid escape sequence in string (starting at offset {i})"
        ))
    };
    while i < b.len() {
        match b[i] {
            b'"' => {
                let s = String::from_utf8(out)
                    .map_err(|_| SyntaxError("escape produces invalid UTF-8".into()))?;
                return Ok((s, i));
            }
            b'\\' => {
                let Some(&c) = b.get(i + 1) else {
                    return Err(bad(i));
                };
                let simple = match c {
                    b'\\' => Some(b'\\'),
                    b'a' => Some(0x07),
                    b'b' => Some(0x08),
                    b'f' => Some(0x0c),
                    b'n' => Some(b'\n'),
                    b'r' => Some(b'\r'),
                    b't' => Some(b'\t'),
                    b'v' => Some(0x0b),
                    b'"' => Some(b'"'),
                    b'\'' => Some(b'\''),
                    b'?' => Some(b'?'),
                    _ => None,
                };
                if let Some(v) = simple {
                    out.push(v);
                    i += 2;
                    continue;
                }
                // Octal escapes are always three digits, hex escapes two; NUL is
                // refused (arguments are C strings in guestfish).
                let (digits, radix, skip) = match c {
                    b'0'..=b'7' => (b.get(i + 1..i + 4), 8, 4),
                    b'x' => (b.get(i + 2..i + 4), 16, 4),
                    _ => return Err(bad(i)),
                };
                let v = digits
                    .and_then(|d| std::str::from_utf8(d).ok())
                    .filter(|d| d.chars().all(|ch| ch.is_digit(radix)))
                    .and_then(|d| u32::from_str_radix(d, radix).ok())
                    .filter(|v| (1..=255).contains(v))
                    .ok_or_else(|| bad(i))?;
                out.push(v as u8);
                i += skip;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    Err(SyntaxError("unterminated double quote".into()))
}

/// `~` and `~/x` become the home directory; `~user/x` that user's home. Anything
/// that cannot be expanded is left as it is, as guestfish leaves it.
fn expand_tilde(arg: &str) -> String {
    let Some(rest) = arg.strip_prefix('~') else {
        return arg.to_string();
    };
    let (user, tail) = match rest.find('/') {
        Some(n) => (&rest[..n], &rest[n..]),
        None => (rest, ""),
    };
    let home = if user.is_empty() {
        std::env::var("HOME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| {
                nix::unistd::User::from_uid(nix::unistd::getuid())
                    .ok()
                    .flatten()
                    .map(|u| u.dir.display().to_string())
            })
    } else {
        nix::unistd::User::from_name(user)
            .ok()
            .flatten()
            .map(|u| u.dir.display().to_string())
    };
    match home {
        Some(h) => format!("{h}{tail}"),
        None => arg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(line: &str) -> ParsedCommand {
        match parse_line(line).unwrap() {
            Line::Command(c) => c,
            other => panic!("{line:?} gave {other:?}"),
        }
    }

    #[test]
    fn splits_bare_words_at_blanks() {
        let c = cmd("part-add /dev/sda p 2048\t -1");
        assert_eq!(c.name, "part-add");
        assert_eq!(c.args, ["/dev/sda", "p", "2048", "-1"]);
        assert!(c.exit_on_error);
        assert_eq!(c.pipe, None);
        assert!(cmd("run").args.is_empty());
        assert!(cmd("  run   ").args.is_empty());
    }

    #[test]
    fn comments_blank_lines_and_shell_lines() {
        assert_eq!(parse_line("").unwrap(), Line::Empty);
        assert_eq!(parse_line("   \t").unwrap(), Line::Empty);
        assert_eq!(parse_line("# run").unwrap(), Line::Empty);
        assert_eq!(
            parse_line("!echo hi").unwrap(),
            Line::Shell("echo hi".into())
        );
        assert_eq!(
            parse_line(" <!cat x").unwrap(),
            Line::Inline("cat x".into())
        );
        // `#` inside a line is an ordinary character, as in guestfish.
        assert_eq!(cmd("write /a #x").args, ["/a", "#x"]);
    }

    #[test]
    fn leading_dash_lets_one_command_fail() {
        let c = cmd("-rm /nothing");
        assert_eq!(c.name, "rm");
        assert!(!c.exit_on_error);
        assert_eq!(cmd("- rm /x").name, "rm");
    }

    #[test]
    fn double_quotes_unescape_c_escapes() {
        let c = cmd(r#"write /f "a b\n\t\"q\"\\ \x41\101 \'\?""#);
        assert_eq!(c.args, ["/f", "a b\n\t\"q\"\\ AA '?"]);
        assert_eq!(cmd(r#"write /f """#).args, ["/f", ""]);
    }

    #[test]
    fn single_quotes_are_literal() {
        let c = cmd(r#"aug-set '/files/etc/x y' 'a\nb "c"'"#);
        assert_eq!(c.args, ["/files/etc/x y", r#"a\nb "c""#]);
    }

    #[test]
    fn quoting_errors_are_refused() {
        for (line, want) in [
            (r#"write /f "abc"#, "unterminated double quote"),
            ("write /f 'abc", "unterminated single quote"),
            (r#"write /f "a"b"#, "not separated by whitespace"),
            ("write /f 'a'b", "not separated by whitespace"),
            (r#"write /f "\q""#, "invalid escape sequence"),
            (r#"write /f "\000""#, "invalid escape sequence"),
            (r#"write /f "\x4""#, "invalid escape sequence"),
            (r#"write /f "\12""#, "invalid escape sequence"),
            (r#"write /f "\"#, "invalid escape sequence"),
        ] {
            let e = parse_line(line).unwrap_err();
            assert!(e.0.contains(want), "{line}: {e}");
        }
    }

    #[test]
    fn pipe_takes_the_rest_of_the_line() {
        let c = cmd("cat /etc/fstab | grep -v '^#' | wc -l");
        assert_eq!(c.args, ["/etc/fstab"]);
        assert_eq!(c.pipe.as_deref(), Some("grep -v '^#' | wc -l"));
        // A quoted bar is an argument.
        assert_eq!(cmd("echo '|'").args, ["|"]);
    }

    #[test]
    fn tilde_expands_bare_arguments_only() {
        let home = expand_tilde("~");
        assert!(!home.starts_with('~'), "{home}");
        assert_eq!(cmd("upload ~/x /x").args[0], format!("{home}/x"));
        assert_eq!(cmd("upload '~/x' /x").args[0], "~/x");
        assert_eq!(expand_tilde("~no-such-user-xyz/a"), "~no-such-user-xyz/a");
        let root = expand_tilde("~root/a");
        assert!(root.ends_with("/a") && !root.starts_with('~'), "{root}");
    }
}
