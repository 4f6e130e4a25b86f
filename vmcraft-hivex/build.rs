//! Link the system's libhivex (Debian's `libhivex-dev`), found through
//! pkg-config when it is there, else by its plain name.

fn main() {
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let out = std::process::Command::new("pkg-config")
        .args(["--libs-only-L", "hivex"])
        .output();
    if let Ok(o) = out
        && o.status.success()
    {
        for word in String::from_utf8_lossy(&o.stdout).split_whitespace() {
            if let Some(dir) = word.strip_prefix("-L") {
                println!("cargo:rustc-link-search=native={dir}");
            }
        }
    }
    println!("cargo:rustc-link-lib=dylib=hivex");
}
