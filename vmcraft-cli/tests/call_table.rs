//! The command line is made from the call table: every call of the table is a
//! command (the very entry, not a copy), and the command line's own commands
//! (`help`, `echo`, `lcd`, ...) never shadow a call.

use vmcraft::calls::table;
use vmcraft_cli::table::{Command, all, lookup};

#[test]
fn every_command_line_command_is_described_once() {
    let mut api = 0;
    for c in all() {
        match c {
            Command::Api(call) => {
                api += 1;
                assert!(std::ptr::eq(table::lookup(call.name).unwrap(), call));
            }
            Command::Fish(f) => assert!(
                table::lookup(f.call.name).is_none(),
                "{} is both a call and a command-line command",
                f.call.name
            ),
        }
    }
    assert_eq!(api, table::all().len());
    for c in table::all() {
        assert!(
            matches!(lookup(c.name), Some(Command::Api(_))),
            "{}",
            c.name
        );
    }
}
