//! Linux md arrays: `md-create`, `md-assemble` (VMCraft's own), `md-detail`,
//! `md-stat`, `md-stop` (`list-md-devices` is with the other device lists).

use super::prelude::*;
use crate::calls::md::MdCreateOpts;

impl ToFields for crate::calls::md::MdStat {
    fn to_fields(&self) -> Fields {
        vec![
            ("mdstat_device", Field::Str(self.mdstat_device.clone())),
            ("mdstat_index", Field::Int(self.mdstat_index.into())),
            ("mdstat_flags", Field::Str(self.mdstat_flags.clone())),
        ]
    }
}

const MD: Arg = arg("md", ArgKind::Device);

pub(crate) const CALLS: &[Call] = &[
    call(
        "md-create",
        &[arg("name", ArgKind::String), arg("devices", ArgKind::List)],
        Ret::Unit,
        "create a Linux md (RAID) device",
        "Create an md array named NAME on DEVICES (mdadm --create --run): RAID 1 of all \
         of them unless level:.. (linear, raid0, raid1, raid4, raid5, raid6, raid10 and \
         their other spellings) says otherwise; nrdevices:N active devices, spare:N \
         spares, chunk:N bytes (a multiple of 1024), missingbitmap:N the slots left \
         missing (bit i for slot i). The array shows as /dev/mdN in list-md-devices.",
        |g, a| {
            let opts = MdCreateOpts {
                missingbitmap: a.opt_int("missingbitmap"),
                nrdevices: a.opt_int("nrdevices").map(|n| n as i32),
                spare: a.opt_int("spare").map(|n| n as i32),
                chunk: a.opt_int("chunk"),
                level: a.opt_string("level").map(String::from),
            };
            void!(g.md_create(a.str(0), &a.list(1), &opts))
        },
    )
    .flags(Flags::WRITES)
    .opts(&[
        arg("missingbitmap", ArgKind::Int64),
        arg("nrdevices", ArgKind::Int),
        arg("spare", ArgKind::Int),
        arg("chunk", ArgKind::Int64),
        arg("level", ArgKind::String),
    ]),
    call(
        "md-assemble",
        &[],
        Ret::StringList,
        "assemble the md arrays on the session's devices",
        "VMCraft only (libguestfs's appliance does it as it boots): assemble every md \
         array whose members are all devices of the session, read-only where a \
         member's drive is read-only, and list them (/dev/mdN). An array with a \
         member elsewhere is left alone; one missing members is not started.",
        |g, _| Ok(Value::List(g.md_assemble()?)),
    )
    .flags(Flags::SESSION),
    call(
        "md-detail",
        &[MD],
        Ret::Hash,
        "obtain metadata for an MD device",
        "What mdadm --detail --export says of an md array of the session, each key \
         without MD_ and in lower case (level, devices, metadata, uuid, name, ...).",
        |g, a| Ok(Value::Hash(g.md_detail(a.str(0))?)),
    ),
    call(
        "md-stat",
        &[MD],
        Ret::StructList,
        "get underlying devices from an MD device",
        "The members of an md array with their index and flags (W write-mostly, F \
         faulty, S spare, R replacement), from /proc/mdstat.",
        |g, a| Ok(structs(&g.md_stat(a.str(0))?)),
    ),
    call(
        "md-stop",
        &[MD],
        Ret::Unit,
        "stop a Linux md (RAID) device",
        "Stop an md array of the session; refused while it is mounted.",
        |g, a| void!(g.md_stop(a.str(0))),
    )
    .flags(Flags::SESSION),
];
