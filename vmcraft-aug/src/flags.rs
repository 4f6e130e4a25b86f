//! [`AugFlags`]: the flag set of `aug_init`, with the values libguestfs and
//! `augeas.h` give them.

bitflags::bitflags! {
    /// Flags for [`Augeas::init`](crate::Augeas::init), bit for bit the values of
    /// libguestfs's `aug_init` (and of `augeas.h`), so a number taken from a
    /// guestfish script converts with [`AugFlags::from_bits`].
    ///
    /// `NO_ERR_CLOSE` is always in effect, whether given or not: a failed
    /// initialisation reports Augeas's own diagnosis instead of a bare failure.
    ///
    /// ```
    /// use vmcraft_aug::AugFlags;
    /// let flags = AugFlags::SAVE_BACKUP | AugFlags::NO_LOAD;
    /// assert_eq!(flags.bits(), 33);
    /// assert_eq!(AugFlags::from_bits(33), Some(flags));
    /// assert_eq!(AugFlags::from_bits(1 << 12), None);
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct AugFlags: u32 {
        /// Keep the original file with a `.augsave` extension on save.
        const SAVE_BACKUP = 1;
        /// Save changes into a file with extension `.augnew` and leave the
        /// original unchanged. Takes precedence over `SAVE_BACKUP`.
        const SAVE_NEWFILE = 2;
        /// Typecheck lenses while loading them (slow: seconds to minutes).
        const TYPE_CHECK = 4;
        /// Do not use the built-in load path for lens modules.
        const NO_STDINC = 8;
        /// Make save a no-op: compute what would change, write nothing (the
        /// files that would have been written are listed in
        /// `/augeas/events/saved`).
        const SAVE_NOOP = 16;
        /// Load no files at init; the tree stays empty until `aug_load`.
        const NO_LOAD = 32;
        /// Do not autoload any lens: `/augeas/load` starts empty (use
        /// `aug_transform` or set `/augeas/load/...` by hand, then `aug_load`).
        /// Implies no files are loaded at init. The lens modules are still all
        /// read from the host before the worker enters the guest (so that no
        /// lens is looked up inside the guest later); only the transforms are
        /// dropped, so this flag saves no time here: to compile only the lenses
        /// needed, name them with [`InitOptions::lenses`](crate::InitOptions::lenses).
        const NO_MODL_AUTOLOAD = 64;
        /// Track the span in the input file of every node (`/augeas/span`).
        const ENABLE_SPAN = 128;
        /// Keep the handle open after an initialisation error. Always on here;
        /// accepted so that any libguestfs flag value converts.
        const NO_ERR_CLOSE = 256;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_libguestfs_and_augeas_h() {
        let table = [
            (AugFlags::SAVE_BACKUP, 1),
            (AugFlags::SAVE_NEWFILE, 2),
            (AugFlags::TYPE_CHECK, 4),
            (AugFlags::NO_STDINC, 8),
            (AugFlags::SAVE_NOOP, 16),
            (AugFlags::NO_LOAD, 32),
            (AugFlags::NO_MODL_AUTOLOAD, 64),
            (AugFlags::ENABLE_SPAN, 128),
            (AugFlags::NO_ERR_CLOSE, 256),
        ];
        for (ours, value) in table {
            assert_eq!(ours.bits(), value, "{ours:?}");
        }
    }

    #[test]
    fn unknown_bits_are_refused() {
        assert_eq!(AugFlags::from_bits(511), Some(AugFlags::all()));
        assert_eq!(AugFlags::from_bits(512), None);
    }
}
