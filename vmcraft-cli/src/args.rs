//! Command arguments as guestfish parses them: required arguments in order, then
//! optional ones written `name:value`; integers in decimal, `0x` hex or `0` octal
//! with an optional size suffix (`1M`), 32-bit where libguestfs says `int`;
//! booleans `true`/`false`, `yes`/`no`, `1`/`0`, `on`/`off`; lists as one
//! space-separated string with single quotes for items holding blanks; an empty
//! string for an optional string left out. The argument types themselves are the
//! call table's ([`vmcraft::calls::table::args`]).

pub use vmcraft::calls::table::args::{Arg, ArgKind, ArgValue, Args, arg, synopsis};

use super::error::CliError;

/// Parse the words after a command name against its argument specs; a key
/// argument ([`ArgKind::Key`]) is not a word but asked of `keys` (see
/// [`crate::keys`]), in order.
///
/// ```
/// use vmcraft_cli::args::{arg, parse_args, ArgKind};
/// let spec = [arg("device", ArgKind::Device), arg("partnum", ArgKind::Int)];
/// let opts = [arg("label", ArgKind::String)];
/// let words: Vec<String> = ["/dev/sda", "0x2", "label:boot"].map(String::from).to_vec();
/// let mut no_keys = |_: &str| unreachable!();
/// let a = parse_args("demo", &spec, &opts, &words, &mut no_keys).unwrap();
/// assert_eq!((a.str(0), a.int32(1), a.opt_string("label")), ("/dev/sda", 2, Some("boot")));
/// assert!(parse_args("demo", &spec, &opts, &words[..1], &mut no_keys).is_err());
///
/// let spec = [arg("device", ArgKind::Device), arg("key", ArgKind::Key), arg("mapname", ArgKind::String)];
/// let words: Vec<String> = ["/dev/sda2", "cryptroot"].map(String::from).to_vec();
/// let a = parse_args("luks-open", &spec, &[], &words, &mut |_| Ok("secret".into())).unwrap();
/// assert_eq!((a.str(0), a.str(1), a.str(2)), ("/dev/sda2", "secret", "cryptroot"));
/// ```
pub fn parse_args(
    command: &str,
    args: &[Arg],
    optargs: &[Arg],
    words: &[String],
    keys: &mut dyn FnMut(&str) -> Result<String, CliError>,
) -> Result<Args, CliError> {
    let written = args.iter().filter(|a| a.kind != ArgKind::Key).count();
    let (min, max) = (written, written + optargs.len());
    if words.len() < min || words.len() > max {
        let want = if min == max {
            format!("{min}")
        } else {
            format!("{min}-{max}")
        };
        return Err(CliError::usage(
            command,
            format!(
                "should have {want} parameter(s), not {} (type 'help {command}' for help)",
                words.len()
            ),
        ));
    }
    let mut values = Vec::with_capacity(args.len());
    let mut next = words.iter();
    for a in args {
        if a.kind == ArgKind::Key {
            values.push(ArgValue::Str(keys(a.name)?));
            continue;
        }
        let w = next.next().expect("counted above");
        values.push(parse_value(command, a.name, a.kind, w)?);
    }
    let mut opts: Vec<(&'static str, ArgValue)> = Vec::new();
    for w in &words[written..] {
        let o = optargs
            .iter()
            .find(|o| w.strip_prefix(o.name).is_some_and(|r| r.starts_with(':')))
            .ok_or_else(|| {
                let known: Vec<&str> = optargs.iter().map(|o| o.name).collect();
                CliError::usage(
                    command,
                    format!(
                        "unknown optional argument \"{w}\" (expected name:value with name one of {})",
                        known.join(", ")
                    ),
                )
            })?;
        if opts.iter().any(|(n, _)| *n == o.name) {
            return Err(CliError::usage(
                command,
                format!("optional argument \"{}\" given twice", o.name),
            ));
        }
        let v = &w[o.name.len() + 1..];
        opts.push((o.name, parse_value(command, o.name, o.kind, v)?));
    }
    Ok(Args::new(values, opts))
}

fn parse_value(command: &str, name: &str, kind: ArgKind, w: &str) -> Result<ArgValue, CliError> {
    let bad = |what: String| CliError::usage(command, format!("{name}: {what}"));
    Ok(match kind {
        ArgKind::String
        | ArgKind::Device
        | ArgKind::Path
        | ArgKind::FileIn
        | ArgKind::FileOut
        | ArgKind::Buffer
        | ArgKind::Key => ArgValue::Str(w.to_string()),
        ArgKind::OptString => ArgValue::OptStr((!w.is_empty()).then(|| w.to_string())),
        ArgKind::Int => {
            let v = parse_int(w).map_err(bad)?;
            if i32::try_from(v).is_err() {
                return Err(bad(format!("{w} is out of range for a 32-bit integer")));
            }
            ArgValue::Int(v)
        }
        ArgKind::Int64 => ArgValue::Int(parse_int(w).map_err(bad)?),
        ArgKind::Bool => ArgValue::Bool(parse_bool(w).map_err(bad)?),
        ArgKind::List => ArgValue::List(parse_list(w).map_err(bad)?),
    })
}

/// An integer as guestfish reads one (gnulib `xstrtoll`, base 0, suffixes
/// `kKMGTPEZY` with an optional `B` (powers of 1000) or `iB` (of 1024)).
///
/// ```
/// use vmcraft_cli::args::parse_int;
/// assert_eq!(parse_int("-34"), Ok(-34));
/// assert_eq!(parse_int("0x1F"), Ok(31));
/// assert_eq!(parse_int("0755"), Ok(0o755));
/// assert_eq!(parse_int("100M"), Ok(100 << 20));
/// assert_eq!(parse_int("1KB"), Ok(1000));
/// assert!(parse_int("x").is_err());
/// ```
pub fn parse_int(s: &str) -> Result<i64, String> {
    let not_int = || format!("'{s}' is not an integer");
    let t = s.trim_start();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (radix, digits_and_suffix) = if let Some(r) = t.strip_prefix("0x").or(t.strip_prefix("0X"))
    {
        (16, r)
    } else if t.len() > 1 && t.starts_with('0') && t.as_bytes()[1].is_ascii_digit() {
        (8, &t[1..])
    } else {
        (10, t)
    };
    let n = digits_and_suffix
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits_and_suffix.len());
    let (digits, suffix) = digits_and_suffix.split_at(n);
    if digits.is_empty() {
        return Err(not_int());
    }
    let magnitude = u64::from_str_radix(digits, radix).map_err(|_| not_int())?;
    let multiplier: u64 = if suffix.is_empty() {
        1
    } else {
        let mut chars = suffix.chars();
        let unit = chars.next().expect("not empty");
        let base: u64 = match chars.as_str() {
            "" | "iB" => 1024,
            "B" | "D" => 1000,
            _ => return Err(not_int()),
        };
        let power = match unit {
            'k' | 'K' => 1,
            'M' => 2,
            'G' => 3,
            'T' => 4,
            'P' => 5,
            'E' => 6,
            'Z' => 7,
            'Y' => 8,
            _ => return Err(not_int()),
        };
        base.checked_pow(power)
            .ok_or_else(|| format!("{s} is out of range"))?
    };
    let v = magnitude
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{s} is out of range"))?;
    let v = i128::from(v) * if neg { -1 } else { 1 };
    i64::try_from(v).map_err(|_| format!("{s} is out of range"))
}

/// A boolean: `true`/`t`/`yes`/`y`/`on`/`1` or `false`/`f`/`no`/`n`/`off`/`0`,
/// in any case.
///
/// ```
/// use vmcraft_cli::args::parse_bool;
/// assert_eq!(parse_bool("Yes"), Ok(true));
/// assert_eq!(parse_bool("0"), Ok(false));
/// assert!(parse_bool("maybe").is_err());
/// ```
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Ok(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Ok(false),
        _ => Err(format!("'{s}' is not a boolean (expected true or false)")),
    }
}

/// A list written as one string: items split at blanks, single quotes keep
/// blanks inside an item, `\'` is a literal quote (guestfish's
/// `parse_string_list`).
///
/// ```
/// use vmcraft_cli::args::parse_list;
/// assert_eq!(parse_list("/dev/sda1 /dev/sdb1").unwrap(), ["/dev/sda1", "/dev/sdb1"]);
/// assert_eq!(parse_list("'a b' c'd e'f").unwrap(), ["a b", "cd ef"]);
/// assert!(parse_list("").unwrap().is_empty());
/// ```
pub fn parse_list(s: &str) -> Result<Vec<String>, String> {
    let mut items = Vec::new();
    let mut cur: Option<String> = None;
    let mut in_quote = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'\'') => {
                chars.next();
                cur.get_or_insert_with(String::new).push('\'');
            }
            '\'' => {
                in_quote = !in_quote;
                cur.get_or_insert_with(String::new);
            }
            ' ' | '\t' if !in_quote => {
                if let Some(item) = cur.take() {
                    items.push(item);
                }
            }
            c => cur.get_or_insert_with(String::new).push(c),
        }
    }
    if in_quote {
        return Err(format!("runaway quote in list \"{s}\""));
    }
    items.extend(cur);
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_no_keys(
        command: &str,
        args: &[Arg],
        optargs: &[Arg],
        words: &[String],
    ) -> Result<Args, CliError> {
        parse_args(command, args, optargs, words, &mut |k| {
            panic!("no key expected, asked for {k}")
        })
    }

    #[test]
    fn keys_are_asked_for_in_order_and_never_taken_from_words() {
        let spec = [
            arg("device", ArgKind::Device),
            arg("key", ArgKind::Key),
            arg("newkey", ArgKind::Key),
            arg("keyslot", ArgKind::Int),
        ];
        let mut asked = Vec::new();
        let a = parse_args(
            "luks-add-key",
            &spec,
            &[],
            &words(&["/dev/sda1", "3"]),
            &mut |k| {
                asked.push(k.to_string());
                Ok(format!("value of {k}"))
            },
        )
        .unwrap();
        assert_eq!(asked, ["key", "newkey"]);
        assert_eq!(
            (a.str(0), a.str(1), a.str(2), a.int32(3)),
            ("/dev/sda1", "value of key", "value of newkey", 3)
        );
        // The key is not a word: four words are one too many.
        let e = parse_args(
            "luks-add-key",
            &spec,
            &[],
            &words(&["/dev/sda1", "k", "n", "3"]),
            &mut |_| Ok(String::new()),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("should have 2 parameter(s), not 4"),
            "{e}"
        );
        // A key that cannot be read fails the command.
        let e = parse_args(
            "luks-add-key",
            &spec,
            &[],
            &words(&["/dev/sda1", "3"]),
            &mut |k| Err(CliError::usage("luks-add-key", format!("no {k}"))),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "luks-add-key: no key");
    }

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn integers_as_xstrtoll_reads_them() {
        for (s, v) in [
            ("0", 0),
            ("2048", 2048),
            ("-1", -1),
            ("-34", -34),
            ("+5", 5),
            ("0x83", 0x83),
            ("0XeE", 0xee),
            ("010", 8),
            ("1k", 1024),
            ("1K", 1024),
            ("128M", 128 << 20),
            ("1G", 1 << 30),
            ("2T", 2 << 40),
            ("1MiB", 1 << 20),
            ("1MB", 1_000_000),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ] {
            assert_eq!(parse_int(s), Ok(v), "{s}");
        }
        for s in [
            "",
            "x",
            "1x",
            "08",
            "0x",
            "1.5",
            "--1",
            "1 M",
            "1Mb",
            "9223372036854775808",
            "1Y",
            "16E",
        ] {
            assert!(parse_int(s).is_err(), "{s}");
        }
    }

    #[test]
    fn int_arguments_are_32_bit() {
        let spec = [arg("partnum", ArgKind::Int)];
        assert_eq!(
            parse_no_keys("part-del", &spec, &[], &words(&["2147483647"]))
                .unwrap()
                .int32(0),
            i32::MAX
        );
        let e = parse_no_keys("part-del", &spec, &[], &words(&["2147483648"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "part-del: partnum: 2147483648 is out of range for a 32-bit integer"
        );
        let e = parse_no_keys("part-del", &spec, &[], &words(&["one"])).unwrap_err();
        assert_eq!(e.to_string(), "part-del: partnum: 'one' is not an integer");
    }

    #[test]
    fn argument_count_is_checked() {
        let spec = [
            arg("device", ArgKind::Device),
            arg("parttype", ArgKind::String),
        ];
        let e = parse_no_keys("part-init", &spec, &[], &words(&["/dev/sda"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "part-init: should have 2 parameter(s), not 1 (type 'help part-init' for help)"
        );
        let opt = [arg("label", ArgKind::String)];
        let e =
            parse_no_keys("mkfs", &spec, &opt, &words(&["a", "b", "label:x", "y"])).unwrap_err();
        assert!(
            e.to_string()
                .contains("should have 2-3 parameter(s), not 4"),
            "{e}"
        );
    }

    #[test]
    fn optional_arguments_by_name() {
        let spec = [
            arg("fstype", ArgKind::String),
            arg("device", ArgKind::Device),
        ];
        let opts = [
            arg("blocksize", ArgKind::Int),
            arg("label", ArgKind::String),
            arg("sparse", ArgKind::Bool),
            arg("excludes", ArgKind::List),
        ];
        let a = parse_no_keys(
            "mkfs",
            &spec,
            &opts,
            &words(&[
                "ext4",
                "/dev/sda1",
                "label:a:b",
                "blocksize:4k",
                "sparse:yes",
                "excludes:'x y' z",
            ]),
        )
        .unwrap();
        assert_eq!(a.opt_string("label"), Some("a:b"));
        assert_eq!(a.opt_int("blocksize"), Some(4096));
        assert_eq!(a.opt_bool("sparse"), Some(true));
        assert_eq!(
            a.opt_list("excludes"),
            Some(vec!["x y".to_string(), "z".to_string()])
        );
        assert_eq!(
            parse_no_keys("mkfs", &spec, &opts, &words(&["a", "b"]))
                .unwrap()
                .opt_string("label"),
            None
        );
        for (w, want) in [
            ("labelx:1", "unknown optional argument \"labelx:1\""),
            ("label", "unknown optional argument \"label\""),
            ("blocksize:big", "blocksize: 'big' is not an integer"),
            ("sparse:maybe", "sparse: 'maybe' is not a boolean"),
        ] {
            let e = parse_no_keys("mkfs", &spec, &opts, &words(&["a", "b", w])).unwrap_err();
            assert!(e.to_string().contains(want), "{w}: {e}");
        }
        let e = parse_no_keys(
            "mkfs",
            &spec,
            &opts,
            &words(&["a", "b", "label:x", "label:y"]),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "mkfs: optional argument \"label\" given twice"
        );
    }

    #[test]
    fn booleans_optional_strings_and_lists() {
        let spec = [
            arg("b", ArgKind::Bool),
            arg("o", ArgKind::OptString),
            arg("l", ArgKind::List),
        ];
        let a = parse_no_keys(
            "x",
            &spec,
            &[],
            &words(&["FALSE", "", "/dev/sda1 /dev/sdb1"]),
        )
        .unwrap();
        assert!(!a.bool(0));
        assert_eq!(a.opt_str(1), None);
        assert_eq!(a.list(2), ["/dev/sda1", "/dev/sdb1"]);
        let a = parse_no_keys("x", &spec, &[], &words(&["on", "expr", "it\\'s"])).unwrap();
        assert!(a.bool(0));
        assert_eq!(a.opt_str(1), Some("expr"));
        assert_eq!(a.list(2), ["it's"]);
        let e = parse_no_keys("x", &spec, &[], &words(&["1", "", "'open"])).unwrap_err();
        assert!(e.to_string().contains("runaway quote"), "{e}");
    }

    #[test]
    fn synopsis_shows_types() {
        assert_eq!(
            synopsis(
                "tar-out",
                &[
                    arg("directory", ArgKind::Path),
                    arg("tarfile", ArgKind::FileOut)
                ],
                &[
                    arg("compress", ArgKind::String),
                    arg("xattrs", ArgKind::Bool)
                ]
            ),
            "tar-out directory (tarfile|-) [compress:..] [xattrs:true|false]"
        );
        assert_eq!(
            synopsis(
                "vgcreate",
                &[
                    arg("volgroup", ArgKind::String),
                    arg("physvols", ArgKind::List)
                ],
                &[]
            ),
            "vgcreate volgroup 'physvols ...'"
        );
    }
}
