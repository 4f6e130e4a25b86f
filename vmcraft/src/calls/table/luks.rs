//! Encrypted devices: `cryptsetup-open`, `cryptsetup-close`, the older
//! `luks-open`, `luks-open-ro`, `luks-close`, and `luks-format`,
//! `luks-format-cipher`, `luks-add-key`, `luks-kill-slot`, `luks-uuid`.

use super::prelude::*;
use crate::calls::luks::CryptsetupOpenOpts;

const KEY: Arg = arg("key", ArgKind::Key);
const MAPNAME: Arg = arg("mapname", ArgKind::String);
const KEYSLOT: Arg = arg("keyslot", ArgKind::Int);

pub(crate) const CALLS: &[Call] = &[
    call(
        "cryptsetup-open",
        &[DEVICE, KEY, MAPNAME],
        Ret::Unit,
        "open an encrypted block device",
        "Open a device encrypted with LUKS (or BitLocker and the other types cryptsetup \
         knows) with one of its keys: its decrypted content becomes the device \
         /dev/mapper/MAPNAME of the session, listed by list-dm-devices and \
         list-filesystems, mountable, and scanned by LVM. crypttype:.. is luks, luks1, \
         luks2, bitlk, plain or tcrypt (guessed from the device when left out), \
         readonly:true makes a read-only mapping (always so over a read-only drive), \
         cipher:.. sets the cipher for types whose header does not hold it. MAPNAME is 1 \
         to 127 letters, digits and _.+-, not control, and must not exist. The key is \
         never a word of the command: the command line asks for it (or reads it from \
         standard input with --keys-from-stdin).",
        |g, a| {
            let opts = CryptsetupOpenOpts {
                readonly: a.opt_bool("readonly").unwrap_or(false),
                crypttype: a.opt_string("crypttype").map(String::from),
                cipher: a.opt_string("cipher").map(String::from),
            };
            void!(g.cryptsetup_open(a.str(0), a.str(1), a.str(2), &opts))
        },
    )
    .flags(Flags::SESSION)
    .opts(&[
        arg("readonly", ArgKind::Bool),
        arg("crypttype", ArgKind::String),
        arg("cipher", ArgKind::String),
    ]),
    call(
        "cryptsetup-close",
        &[DEVICE],
        Ret::Unit,
        "close an encrypted device",
        "Close a mapping cryptsetup-open made, given as /dev/mapper/MAPNAME (not the \
         device under it). Refused while it is mounted or holds an active LV.",
        |g, a| void!(g.cryptsetup_close(a.str(0))),
    )
    .flags(Flags::SESSION),
    call(
        "luks-open",
        &[DEVICE, KEY, MAPNAME],
        Ret::Unit,
        "open a LUKS-encrypted block device",
        "Deprecated by libguestfs for cryptsetup-open: the same, with the type luks.",
        |g, a| void!(g.luks_open(a.str(0), a.str(1), a.str(2))),
    )
    .flags(Flags::SESSION),
    call(
        "luks-open-ro",
        &[DEVICE, KEY, MAPNAME],
        Ret::Unit,
        "open a LUKS-encrypted block device read-only",
        "Deprecated by libguestfs for cryptsetup-open readonly:true: luks-open with a \
         read-only mapping.",
        |g, a| void!(g.luks_open_ro(a.str(0), a.str(1), a.str(2))),
    )
    .flags(Flags::SESSION),
    call(
        "luks-close",
        &[DEVICE],
        Ret::Unit,
        "close a LUKS device",
        "Deprecated by libguestfs for cryptsetup-close: the same.",
        |g, a| void!(g.luks_close(a.str(0))),
    )
    .flags(Flags::SESSION),
    call(
        "luks-format",
        &[DEVICE, KEY, KEYSLOT],
        Ret::Unit,
        "format a block device as a LUKS encrypted device",
        "Erase DEVICE and make it a LUKS container whose first key, KEY, is in key slot \
         KEYSLOT (0 to 31; LUKS1 has 0 to 7).",
        |g, a| void!(g.luks_format(a.str(0), a.str(1), a.int32(2))),
    )
    .flags(Flags::WRITES),
    call(
        "luks-format-cipher",
        &[DEVICE, KEY, KEYSLOT, arg("cipher", ArgKind::String)],
        Ret::Unit,
        "format a block device as a LUKS encrypted device",
        "luks-format with the cipher given (for example aes-xts-plain64).",
        |g, a| void!(g.luks_format_cipher(a.str(0), a.str(1), a.int32(2), a.str(3))),
    )
    .flags(Flags::WRITES),
    call(
        "luks-add-key",
        &[DEVICE, KEY, arg("newkey", ArgKind::Key), KEYSLOT],
        Ret::Unit,
        "add a key on a LUKS encrypted device",
        "Add NEWKEY in key slot KEYSLOT of a LUKS device; KEY is any key it has. A slot \
         that holds a key is refused: remove that key first with luks-kill-slot.",
        |g, a| void!(g.luks_add_key(a.str(0), a.str(1), a.str(2), a.int32(3))),
    )
    .flags(Flags::WRITES),
    call(
        "luks-kill-slot",
        &[DEVICE, KEY, KEYSLOT],
        Ret::Unit,
        "remove a key from a LUKS encrypted device",
        "Remove the key in slot KEYSLOT of a LUKS device; KEY must be one of its other \
         keys.",
        |g, a| void!(g.luks_kill_slot(a.str(0), a.str(1), a.int32(2))),
    )
    .flags(Flags::WRITES),
    call(
        "luks-uuid",
        &[DEVICE],
        Ret::String,
        "get the UUID of a LUKS device",
        "The UUID in a LUKS device's header.",
        |g, a| Ok(Value::Str(g.luks_uuid(a.str(0))?)),
    ),
];
