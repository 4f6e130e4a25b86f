//! Shared by the integration tests: the `.reg` description of a small SYSTEM
//! hive, and rendering values the way `hivexsh`'s `lsval` prints them.

#![allow(dead_code)]

use vmcraft_hivex::{Hive, Value, ValueType};

/// The prefix of [`SYSTEM_REG`]'s keys.
pub const PREFIX: &str = "HKEY_LOCAL_MACHINE\\SYSTEM";

/// A SYSTEM hive as inspection and conversions read it: the current control
/// set, the computer name, a service with values of each common type.
pub const SYSTEM_REG: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001
"Default"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ComputerName\ComputerName]
"ComputerName"="WIN-TEST01"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\viostor]
"Start"=dword:00000000
"ImagePath"=hex(2):73,00,79,00,73,00,74,00,65,00,6d,00,33,00,32,00,00,00
"Owners"=hex(7):61,00,00,00,62,00,63,00,00,00,00,00
"Big"=hex(b):00,00,00,00,00,01,00,00
"Bin"=hex:01,02,03
@="default value"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\Tcpip]
"DisplayName"="TCP/IP Protocol Driver"
"#;

/// A fresh SYSTEM hive in `dir`, made by the fixture (blank hive +
/// `hivexregedit --merge`).
pub fn system_hive(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("SYSTEM");
    vmcraft_hivex::testing::make_hive(&path, PREFIX, SYSTEM_REG).expect("make hive");
    path
}

/// One value as `hivexsh`'s `lsval` prints it.
pub fn lsval_line(hive: &Hive, v: Value) -> String {
    let key = hive.value_key(v).unwrap();
    let key = if key.is_empty() { "@".to_string() } else { key };
    let (t, data) = hive.value_value(v).unwrap();
    // hivexsh escapes backslashes and quotes in strings.
    let string = || {
        hive.value_string(v)
            .unwrap()
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
    };
    let shown = match t {
        ValueType::SZ => format!("\"{}\"", string()),
        ValueType::EXPAND_SZ | ValueType::LINK => format!("str({}):\"{}\"", t.0, string()),
        ValueType::DWORD | ValueType::DWORD_BIG_ENDIAN => {
            format!("dword:{:08x}", hive.value_dword(v).unwrap() as u32)
        }
        _ => {
            let hex: Vec<String> = data.iter().map(|b| format!("{b:02x}")).collect();
            format!("hex({}):{}", t.0, hex.join(","))
        }
    };
    format!("\"{key}\"={shown}")
}

/// Every value of `node`, as `lsval` prints them.
pub fn lsval(hive: &Hive, node: vmcraft_hivex::Node) -> String {
    hive.node_values(node)
        .unwrap()
        .into_iter()
        .map(|v| lsval_line(hive, v) + "\n")
        .collect()
}
