//! The machine an ELF binary is for, from its header (the first 20 bytes), and
//! the host's, so that a guest built for another architecture is refused before
//! its programs are run.

/// An ELF binary's machine: `e_machine`, and whether it is a 64-bit binary
/// (`EI_CLASS`), which together tell `i386` from `x86_64` and `arm` from
/// `aarch64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine {
    /// `e_machine` (`EM_X86_64` is 62, `EM_AARCH64` 183, ...).
    pub e_machine: u16,
    /// `ELFCLASS64`.
    pub is_64: bool,
}

impl Machine {
    /// The machine of an ELF header, `None` when `head` is not one (too short,
    /// no `\x7fELF` magic, an unknown class or byte order).
    ///
    /// ```
    /// use vmcraft::sandbox::Machine;
    /// let mut h = [0u8; 20];
    /// h[..4].copy_from_slice(b"\x7fELF");
    /// h[4] = 2; // 64-bit
    /// h[5] = 1; // little-endian
    /// h[18..20].copy_from_slice(&183u16.to_le_bytes());
    /// assert_eq!(Machine::from_header(&h).unwrap().name(), "aarch64");
    /// assert!(Machine::from_header(b"#!/bin/sh\n").is_none());
    /// ```
    pub fn from_header(head: &[u8]) -> Option<Machine> {
        if head.len() < 20 || &head[..4] != b"\x7fELF" {
            return None;
        }
        let is_64 = match head[4] {
            1 => false,
            2 => true,
            _ => return None,
        };
        let raw = [head[18], head[19]];
        let e_machine = match head[5] {
            1 => u16::from_le_bytes(raw),
            2 => u16::from_be_bytes(raw),
            _ => return None,
        };
        Some(Machine { e_machine, is_64 })
    }

    /// The machine this program runs on, `None` on an architecture not named here.
    pub fn host() -> Option<Machine> {
        let (e_machine, is_64) = match std::env::consts::ARCH {
            "x86_64" => (62, true),
            "x86" => (3, false),
            "aarch64" => (183, true),
            "arm" => (40, false),
            "riscv64" => (243, true),
            "powerpc64" => (21, true),
            "s390x" => (22, true),
            "loongarch64" => (258, true),
            _ => return None,
        };
        Some(Machine { e_machine, is_64 })
    }

    /// The machine's usual name (`x86_64`, `aarch64`, `i386`, ...), or
    /// `machine N` for one not named here.
    pub fn name(self) -> String {
        let n = match (self.e_machine, self.is_64) {
            (62, true) => "x86_64",
            (62, false) => "x32",
            (3, _) => "i386",
            (183, _) => "aarch64",
            (40, _) => "arm",
            (243, true) => "riscv64",
            (243, false) => "riscv32",
            (21, _) => "ppc64",
            (20, _) => "ppc",
            (22, true) => "s390x",
            (22, false) => "s390",
            (8, true) => "mips64",
            (8, false) => "mips",
            (258, _) => "loongarch64",
            (2, _) | (43, _) => "sparc",
            (m, _) => return format!("machine {m}"),
        };
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(class: u8, data: u8, machine: u16) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = class;
        h[5] = data;
        let m = if data == 1 {
            machine.to_le_bytes()
        } else {
            machine.to_be_bytes()
        };
        h[18..20].copy_from_slice(&m);
        h
    }

    #[test]
    fn machines_from_headers() {
        assert_eq!(
            Machine::from_header(&header(2, 1, 62)).unwrap().name(),
            "x86_64"
        );
        assert_eq!(
            Machine::from_header(&header(1, 1, 3)).unwrap().name(),
            "i386"
        );
        assert_eq!(
            Machine::from_header(&header(2, 2, 22)).unwrap().name(),
            "s390x"
        );
        assert_eq!(
            Machine::from_header(&header(2, 1, 9999)).unwrap().name(),
            "machine 9999"
        );
        assert!(Machine::from_header(&header(3, 1, 62)).is_none());
        assert!(Machine::from_header(&header(2, 3, 62)).is_none());
        assert!(Machine::from_header(b"\x7fELF").is_none());
        assert!(Machine::from_header(b"").is_none());
    }

    #[test]
    fn the_host_is_known_and_agrees_with_this_binary() {
        let host = Machine::host().expect("a named architecture");
        let me = std::fs::read("/proc/self/exe").unwrap();
        assert_eq!(Machine::from_header(&me[..64]), Some(host));
    }
}
