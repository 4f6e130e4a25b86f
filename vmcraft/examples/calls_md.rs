//! Writes the call table's reference (`CALLS.md` at the workspace root) to the
//! file named by its one argument, or prints it. `cargo xtask calls` runs it.

fn main() {
    let text = vmcraft::calls::table::reference();
    match std::env::args_os().nth(1) {
        Some(path) => {
            if let Err(e) = std::fs::write(&path, text) {
                eprintln!("calls_md: cannot write {}: {e}", path.to_string_lossy());
                std::process::exit(1);
            }
        }
        None => print!("{text}"),
    }
}
