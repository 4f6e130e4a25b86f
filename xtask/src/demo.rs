//! `cargo xtask demo`: VMCraft's main job on an image it makes itself. Until the
//! facade and the command line exist, it says what it will do and does nothing.

use anyhow::Result;

pub fn run(_args: &[String]) -> Result<()> {
    println!(
        "cargo xtask demo is not built yet. When the facade and the `vmcraft` command line
land, it will: make a qcow2 guest with a GPT, an ESP and an ext4 root and a small /etc;
inspect it; edit /etc/fstab with Augeas; tar /etc out and into a second image; copy a
partition; and print what each step returned and how long it took."
    );
    Ok(())
}
