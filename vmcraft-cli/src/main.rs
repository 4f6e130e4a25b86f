//! The `vmcraft` command: guestfish's command line on the VMCraft facade. All of
//! it lives in the `vmcraft_cli` library; this only hands over the arguments and exits with
//! the status.

fn main() {
    let code = vmcraft_cli::main(std::env::args_os().skip(1).collect());
    std::process::exit(code);
}
