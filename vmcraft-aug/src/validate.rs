//! Argument checks done before a request reaches Augeas: labels for
//! `aug_insert`, the path of `aug_ls`, and NUL bytes in any string (which the C
//! API cannot carry).

use crate::error::{Error, ErrorKind, Result};

/// Refuse a string argument holding a NUL byte.
pub(crate) fn no_nul(call: &'static str, what: &str, value: &str) -> Result<()> {
    if value.contains('\0') {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            call,
            value.replace('\0', "\\0"),
            format!("the {what} contains a NUL byte"),
        ));
    }
    Ok(())
}

/// Check a label for `aug_insert`: it must be a plain label, with no `/`, no `*`,
/// and no bracketed index `[N]` at its end (what `augeas.h` requires of it).
pub(crate) fn insert_label(call: &'static str, path: &str, label: &str) -> Result<()> {
    no_nul(call, "label", label)?;
    let bad = |why: &str| {
        Err(Error::new(
            ErrorKind::InvalidArgument,
            call,
            path,
            format!("invalid label '{label}': {why}"),
        ))
    };
    if label.is_empty() {
        return bad("a label cannot be empty");
    }
    if label.contains('/') {
        return bad("a label cannot contain '/'");
    }
    if label.contains('*') {
        return bad("a label cannot contain '*'");
    }
    if ends_with_index(label) {
        return bad("a label cannot end with an index [N]");
    }
    Ok(())
}

fn ends_with_index(label: &str) -> bool {
    let Some(inner) = label.strip_suffix(']') else {
        return false;
    };
    match inner.rfind('[') {
        Some(open) => {
            let digits = inner[open + 1..].trim();
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// The `aug_match` pattern that lists the children of `path`, as libguestfs's
/// `aug_ls` builds it: `path/*`, or `/*` for the root. A path ending in `/`, `]`
/// or `*` is refused (the pattern would not mean what the caller expects).
pub(crate) fn ls_pattern(path: &str) -> Result<String> {
    no_nul("aug_ls", "path", path)?;
    if path == "/" {
        return Ok("/*".to_string());
    }
    if path.len() > 1 && (path.ends_with('/') || path.ends_with(']') || path.ends_with('*')) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "aug_ls",
            path,
            "don't use aug_ls with a path that ends with / ] *",
        ));
    }
    Ok(format!("{path}/*"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_labels_pass() {
        for label in [
            "alias", "01", "#comment", "opt", "a[b", "x]", "a[1]b", "a[x]", "[]",
        ] {
            insert_label("aug_insert", "/p", label).unwrap_or_else(|e| panic!("{label}: {e}"));
        }
    }

    #[test]
    fn bad_labels_are_refused_with_a_reason() {
        for (label, why) in [
            ("a/b", "cannot contain '/'"),
            ("/", "cannot contain '/'"),
            ("a*", "cannot contain '*'"),
            ("*", "cannot contain '*'"),
            ("alias[1]", "cannot end with an index [N]"),
            ("alias[ 12 ]", "cannot end with an index [N]"),
            ("", "cannot be empty"),
        ] {
            let err = insert_label("aug_insert", "/files/etc/hosts/1", label).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{label}");
            assert_eq!(
                err.to_string(),
                format!("aug_insert: /files/etc/hosts/1: invalid label '{label}': a label {why}")
            );
        }
    }

    #[test]
    fn nul_bytes_are_refused() {
        let err = insert_label("aug_insert", "/p", "a\0b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "aug_insert: a\\0b: the label contains a NUL byte"
        );
        let err = no_nul("aug_set", "value", "x\0").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        no_nul("aug_set", "value", "x").unwrap();
    }

    #[test]
    fn ls_patterns_follow_libguestfs() {
        assert_eq!(ls_pattern("/").unwrap(), "/*");
        assert_eq!(ls_pattern("/files/etc").unwrap(), "/files/etc/*");
        assert_eq!(ls_pattern("$hosts").unwrap(), "$hosts/*");
        for bad in ["/files/", "/files/etc/hosts[1]", "/files/*"] {
            let err = ls_pattern(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert_eq!(
                err.to_string(),
                format!("aug_ls: {bad}: don't use aug_ls with a path that ends with / ] *")
            );
        }
    }
}
