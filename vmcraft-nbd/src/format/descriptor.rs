//! VMDK text descriptors read by qemu's own grammar, not by a tidier one.
//!
//! What matters for safety is not what a well-formed descriptor says but what
//! qemu's vmdk driver will *open*, and qemu reads a descriptor with C string
//! functions: every line is handed to `sscanf` with the format
//! `%10s %ld %10s "%511[^\n\r"]" %ld` (and `sscanf` skips newlines as whitespace,
//! so one "line" may run on over the next ones), options are found with `strstr`
//! anywhere in the text, and the text ends at the first NUL byte. A parser that
//! skips lines containing `=`, or stops at a line end, or reads the descriptor
//! size from the header, sees fewer extents than qemu opens. This module
//! reproduces those rules byte for byte; a unit test compares
//! [`scan_extent_line`] with the C library's own `sscanf` on random input.
//!
//! Where the rules are looser than qemu's (an extent whose access is not `RW` is
//! reported too, though qemu skips it), the difference only makes VMCraft judge
//! more names than qemu would open, never fewer.

/// The longest descriptor qemu reads (`vmdk_read_desc`: 1 MiB less one byte).
pub(crate) const MAX_DESCRIPTOR: usize = (1 << 20) - 1;
/// What qemu reads when it looks for `parentFileNameHint` (`DESC_SIZE`).
pub(crate) const PARENT_WINDOW: usize = 20 * 512;
/// qemu's `%511[...]`: longer names are cut at 511 bytes and still opened.
const MAX_NAME: usize = 511;
/// qemu's `%10s` for the access and type words.
const MAX_WORD: usize = 10;
/// qemu's limit on a backing file name (`PATH_MAX` less the NUL).
const MAX_PARENT_NAME: usize = 4095;

/// What `sscanf(line, "%10s %ld %10s \"%511[^\n\r\"]\" %ld", ...)` assigns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ExtentLine {
    /// How many conversions succeeded (sscanf's return value, with end of input
    /// before the first conversion counted as 0 rather than EOF).
    pub matches: u8,
    /// The access word (`RW`, `RDONLY`, `NOACCESS`), at most 10 bytes.
    pub access: Vec<u8>,
    /// Size in sectors (glibc clamps overflowing values to `i64::MIN/MAX`).
    pub sectors: i64,
    /// The extent type word (`FLAT`, `SPARSE`, ...), at most 10 bytes.
    pub kind: Vec<u8>,
    /// The file name, at most 511 bytes.
    pub file: Vec<u8>,
    /// The offset of a FLAT extent, in sectors.
    pub offset: i64,
}

/// The C locale's `isspace`.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// A cursor over a NUL-terminated C string (the slice ends where the NUL is).
struct Cursor<'a> {
    s: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.at += 1;
        }
    }

    /// `%Ns`: skip whitespace, then 1 to `max` non-space bytes.
    fn word(&mut self, max: usize) -> Option<Vec<u8>> {
        self.skip_space();
        let start = self.at;
        while self.at - start < max && self.peek().is_some_and(|b| !is_space(b)) {
            self.at += 1;
        }
        (self.at > start).then(|| self.s[start..self.at].to_vec())
    }

    /// `%ld` (base 10) as glibc reads it: whitespace, an optional sign, digits;
    /// an out-of-range value is clamped as `strtol` clamps it.
    fn long(&mut self) -> Option<i64> {
        self.skip_space();
        let start = self.at;
        let negative = match self.peek() {
            Some(b'-') => {
                self.at += 1;
                true
            }
            Some(b'+') => {
                self.at += 1;
                false
            }
            _ => false,
        };
        let digits = self.at;
        let mut value: i128 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            value = (value * 10 + i128::from(d - b'0')).min(i128::from(u64::MAX) + 1);
            self.at += 1;
        }
        if self.at == digits {
            self.at = start;
            return None;
        }
        let value = if negative { -value } else { value };
        Some(value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
    }

    fn literal(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// `%N[^\n\r"]`: 1 to `max` bytes that are not a line end or a quote.
    fn name(&mut self, max: usize) -> Option<Vec<u8>> {
        let start = self.at;
        while self.at - start < max
            && self
                .peek()
                .is_some_and(|b| !matches!(b, b'\n' | b'\r' | b'"'))
        {
            self.at += 1;
        }
        (self.at > start).then(|| self.s[start..self.at].to_vec())
    }
}

/// Run qemu's extent-line `sscanf` on `text`, which starts where a line starts
/// and runs to the end of the descriptor (as the C string does).
///
/// For example `RW 8 FLAT "/host/file" 0 x=y` gives five conversions and the
/// file `/host/file` (the tests hold more, and compare with glibc).
#[cfg(test)]
pub(crate) fn scan_extent_line(text: &[u8]) -> ExtentLine {
    scan_counted(text).0
}

/// [`scan_extent_line`], and how many bytes of `text` it read.
fn scan_counted(text: &[u8]) -> (ExtentLine, usize) {
    let mut c = Cursor { s: text, at: 0 };
    let l = scan_with(&mut c);
    (l, c.at)
}

fn scan_with(c: &mut Cursor<'_>) -> ExtentLine {
    let mut l = ExtentLine::default();
    let Some(access) = c.word(MAX_WORD) else {
        return l;
    };
    l.access = access;
    l.matches = 1;
    c.skip_space();
    let Some(sectors) = c.long() else { return l };
    l.sectors = sectors;
    l.matches = 2;
    c.skip_space();
    let Some(kind) = c.word(MAX_WORD) else {
        return l;
    };
    l.kind = kind;
    l.matches = 3;
    c.skip_space();
    if !c.literal(b'"') {
        return l;
    }
    let Some(file) = c.name(MAX_NAME) else {
        return l;
    };
    l.file = file;
    l.matches = 4;
    if !c.literal(b'"') {
        return l;
    }
    c.skip_space();
    let Some(offset) = c.long() else { return l };
    l.offset = offset;
    l.matches = 5;
    l
}

/// The descriptor as qemu sees it: the bytes up to the first NUL.
pub(crate) fn c_string(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(n) => &bytes[..n],
        None => bytes,
    }
}

/// Every extent line qemu's loop would hand to `sscanf` that names a file
/// (four or more conversions), in order. Lines are split on `\n` only, as
/// qemu's `next_line` does, and each scan runs on to the end of the text.
///
/// A scan starts by skipping whitespace, newlines included, so every line start
/// inside one run of whitespace scans the same text from the same first word:
/// it is scanned once, and the result counted for each such line (as qemu would
/// open the file once per line). Without that, a descriptor of one extent line
/// followed by a megabyte of newlines costs a quadratic number of steps.
///
/// At most `max` lines are returned (the caller refuses a descriptor that
/// reaches its limit).
pub(crate) fn extent_lines(desc: &[u8], max: usize) -> Vec<ExtentLine> {
    extent_lines_counted(desc, max).0
}

/// [`extent_lines`], and how many bytes the scans read in all.
pub(crate) fn extent_lines_counted(desc: &[u8], max: usize) -> (Vec<ExtentLine>, usize) {
    let desc = c_string(desc);
    let mut out = Vec::new();
    let mut scanned = 0;
    let mut last: Option<(usize, ExtentLine)> = None;
    let mut at = 0;
    while at < desc.len() {
        // Inside the run of whitespace the last scan started after, the first
        // word is the same one (and finding it again would be quadratic too).
        let first = match &last {
            Some((pos, _)) if at <= *pos => *pos,
            _ => desc[at..]
                .iter()
                .position(|&b| !is_space(b))
                .map_or(desc.len(), |n| at + n),
        };
        let line = match &last {
            Some((pos, line)) if *pos == first => line.clone(),
            _ => {
                let (line, read) = scan_counted(&desc[first..]);
                scanned += (first - at) + read;
                last = Some((first, line.clone()));
                line
            }
        };
        if line.matches >= 4 {
            out.push(line);
            if out.len() == max {
                break;
            }
        }
        at = match desc[at..].iter().position(|&b| b == b'\n') {
            Some(n) => at + n + 1,
            None => desc.len(),
        };
    }
    (out, scanned)
}

/// qemu's `vmdk_parse_description`: the value of `key` found with `strstr`
/// anywhere in the text, skipping the two bytes after the key (`="`) and ending
/// at the next `"`. `None` where qemu would report an error.
pub(crate) fn description_value<'a>(desc: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let desc = c_string(desc);
    let pos = find(desc, key.as_bytes())?;
    let start = pos + key.len() + 2;
    if start >= desc.len() {
        return None;
    }
    let len = desc[start..].iter().position(|&b| b == b'"')?;
    Some(&desc[start..start + len])
}

/// What qemu's `vmdk_parent_open` finds in the 10 KiB `window` read at the
/// descriptor offset: `Ok(None)` without a `parentFileNameHint`, the name
/// otherwise, `Err` where qemu would fail to open the image.
pub(crate) fn parent_hint(window: &[u8]) -> Result<Option<Vec<u8>>, &'static str> {
    let window = &window[..window.len().min(PARENT_WINDOW)];
    let text = c_string(window);
    let Some(pos) = find(text, b"parentFileNameHint") else {
        return Ok(None);
    };
    // `sizeof("parentFileNameHint") + 1`: the key, its NUL's worth, and one more.
    // From there qemu's `strchr` runs on in the raw buffer, past a NUL that ended
    // the `strstr`, to the next quote or NUL (the buffer ends in a NUL).
    let start = pos + "parentFileNameHint".len() + 2;
    let rest = window.get(start..).unwrap_or_default();
    let Some(len) = rest.iter().position(|&b| b == b'"' || b == 0) else {
        return Err("parentFileNameHint has no closing quote");
    };
    if rest[len] == 0 {
        return Err("parentFileNameHint has no closing quote");
    }
    if len > MAX_PARENT_NAME {
        return Err("parentFileNameHint is longer than 4095 bytes");
    }
    Ok(Some(rest[..len].to_vec()))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn extent_lines_as_qemu_reads_them() {
        let l = scan_extent_line(b"RW 8 FLAT \"/host/file\" 0 x=y\n");
        assert_eq!(l.matches, 5);
        assert_eq!(l.file, b"/host/file");
        // Split over lines: sscanf skips the newlines.
        let l = scan_extent_line(b"RW\n8\nFLAT\n\"a\"\n3");
        assert_eq!(
            (l.matches, l.sectors, &l.file[..], l.offset),
            (5, 8, &b"a"[..], 3)
        );
        // A name longer than 511 bytes is cut, and still counts.
        let mut long = b"RW 8 SPARSE \"".to_vec();
        long.extend(std::iter::repeat_n(b'x', 600));
        long.extend(b"\"\n");
        let l = scan_extent_line(&long);
        assert_eq!((l.matches, l.file.len()), (4, 511));
        // Words longer than 10 bytes are cut too: "RWRWRWRWRW8" is no access word
        // followed by a number.
        let l = scan_extent_line(b"RWRWRWRWRWRW 8 FLAT \"x\" 0");
        assert_eq!(l.access, b"RWRWRWRWRW");
        assert_eq!(l.matches, 1);
        assert_eq!(scan_extent_line(b"").matches, 0);
        assert_eq!(scan_extent_line(b"RW 2048 ZERO\n").matches, 3);
        assert_eq!(scan_extent_line(b"RW -5 FLAT \"x\" 0").sectors, -5);
        assert_eq!(
            scan_extent_line(b"RW 99999999999999999999999 FLAT \"x\" 0").sectors,
            i64::MAX
        );
    }

    #[test]
    fn every_line_is_scanned_whatever_it_holds() {
        let desc = b"# Disk DescriptorFile\nversion=1\nRW 8 FLAT \"/etc/a\" 0 x=y\n\
            ddb.x = \"1\"\nRDONLY 8 SPARSE \"b\"\nRW 8 ZERO\n  RW 4 VMFS \"c\"\n\0RW 1 FLAT \"d\" 0";
        let files: Vec<Vec<u8>> = extent_lines(desc, 100)
            .into_iter()
            .map(|l| l.file)
            .collect();
        assert_eq!(files, [b"/etc/a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    }

    #[test]
    fn a_descriptor_full_of_blank_lines_is_read_in_linear_time() {
        let mut desc = b"createType=\"vmfs\"\nRW 8 FLAT \"f.img\" 0\n".to_vec();
        desc.extend(std::iter::repeat_n(b'\n', 1 << 20));
        desc.extend(b"RW 8 FLAT \"g.img\" 0\n");
        desc.extend(std::iter::repeat_n(b' ', 1 << 19));
        desc.extend(b"\nRW\n");
        desc.extend(std::iter::repeat_n(b'\n', 1 << 19));
        desc.extend(b"8 SPARSE \"h.img\"\n");
        let (lines, scanned) = extent_lines_counted(&desc, usize::MAX);
        let files: Vec<&[u8]> = lines.iter().map(|l| &l.file[..]).collect();
        // Every line start inside a blank run takes the same line, as qemu does.
        assert_eq!(files.first(), Some(&&b"f.img"[..]));
        assert!(files.contains(&&b"g.img"[..]));
        assert_eq!(files.last(), Some(&&b"h.img"[..]));
        assert!(
            scanned <= 3 * desc.len(),
            "{scanned} bytes read for {}",
            desc.len()
        );
    }

    #[test]
    fn options_are_found_anywhere() {
        let d = b"xx createType=\"monolithicFlat\" yy";
        assert_eq!(
            description_value(d, "createType"),
            Some(&b"monolithicFlat"[..])
        );
        assert_eq!(description_value(b"createType", "createType"), None);
        assert_eq!(description_value(b"createType=\"x", "createType"), None);
        // Any two bytes after the key are skipped, whatever they are.
        assert_eq!(
            description_value(b"createTypeXYvmfs\"", "createType"),
            Some(&b"vmfs"[..])
        );
    }

    #[test]
    fn parent_hints_as_qemu_finds_them() {
        assert_eq!(parent_hint(b"version=1\n"), Ok(None));
        assert_eq!(
            parent_hint(b"a parentFileNameHint=\"/host/base.vmdk\"\n"),
            Ok(Some(b"/host/base.vmdk".to_vec()))
        );
        // Inside a comment or an extent line all the same.
        assert_eq!(
            parent_hint(b"# parentFileNameHint=\"p\"").unwrap(),
            Some(b"p".to_vec())
        );
        assert!(parent_hint(b"parentFileNameHint").is_err());
        // The key cut by a NUL: qemu reads the value from the bytes after it.
        assert_eq!(
            parent_hint(b"parentFileNameHint\0=/etc/hostname\""),
            Ok(Some(b"/etc/hostname".to_vec()))
        );
        assert!(parent_hint(b"parentFileNameHint=\"no end").is_err());
        // Past the 10 KiB window, or after a NUL, qemu does not look.
        let mut far = vec![b' '; PARENT_WINDOW];
        far.extend(b"parentFileNameHint=\"x\"");
        assert_eq!(parent_hint(&far), Ok(None));
        assert_eq!(parent_hint(b"\0parentFileNameHint=\"x\""), Ok(None));
    }

    /// The C library's own sscanf with qemu's format string.
    fn libc_scan(text: &[u8]) -> ExtentLine {
        let mut input = text.to_vec();
        input.push(0);
        let mut access = [0u8; 11];
        let mut kind = [0u8; 11];
        let mut file = [0u8; 512];
        let mut sectors: i64 = 0;
        let mut offset: i64 = 0;
        // SAFETY: NUL-terminated input and format; the buffers are as large as the
        // field widths plus the NUL.
        let n = unsafe {
            libc::sscanf(
                input.as_ptr().cast(),
                c"%10s %ld %10s \"%511[^\n\r\"]\" %ld".as_ptr(),
                access.as_mut_ptr(),
                &mut sectors,
                kind.as_mut_ptr(),
                file.as_mut_ptr(),
                &mut offset,
            )
        };
        let cstr = |b: &[u8]| c_string(b).to_vec();
        let matches = n.max(0) as u8;
        ExtentLine {
            matches,
            access: if matches >= 1 {
                cstr(&access)
            } else {
                Vec::new()
            },
            sectors: if matches >= 2 { sectors } else { 0 },
            kind: if matches >= 3 {
                cstr(&kind)
            } else {
                Vec::new()
            },
            file: if matches >= 4 {
                cstr(&file)
            } else {
                Vec::new()
            },
            offset: if matches >= 5 { offset } else { 0 },
        }
    }

    fn descriptorish() -> impl Strategy<Value = Vec<u8>> {
        let token = prop_oneof![
            Just(b"RW".to_vec()),
            Just(b"RDONLY".to_vec()),
            Just(b"FLAT".to_vec()),
            Just(b"SPARSE".to_vec()),
            Just(b"\"".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"\t".to_vec()),
            Just(b"=".to_vec()),
            Just(b"-".to_vec()),
            Just(b"+".to_vec()),
            Just(b"/etc/x".to_vec()),
            Just(b"99999999999999999999".to_vec()),
            "[0-9]{1,4}".prop_map(String::into_bytes),
            proptest::collection::vec(1u8..=255, 1..8),
        ];
        proptest::collection::vec(token, 0..24).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// The emulation agrees with glibc's sscanf on what it assigns.
        #[test]
        fn scan_agrees_with_libc_sscanf(text in descriptorish()) {
            let text = c_string(&text).to_vec();
            prop_assert_eq!(scan_extent_line(&text), libc_scan(&text));
        }
    }
}
