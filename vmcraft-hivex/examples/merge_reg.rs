//! Make a hive from `.reg` text: a blank hive filled by `hivexregedit --merge`
//! (keys' missing parents added first): `cargo run -p vmcraft-hivex --example
//! merge_reg -- SYSTEM 'HKEY_LOCAL_MACHINE\SYSTEM' system.reg`.

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, prefix, reg] = args.as_slice() else {
        eprintln!("usage: merge_reg HIVE PREFIX REGFILE");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(reg)?;
    vmcraft_hivex::testing::make_hive(std::path::Path::new(path), prefix, &text)
}
