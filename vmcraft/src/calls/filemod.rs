//! Guest file manipulation (links, renames, `cp-r`, FIFOs and device nodes, `truncate`, `utimens`, `fill*`, `pread`/`pwrite`, offsets, base64, checksums, compression, cpio, `find0`, `readdir`, temporary names, extended attributes), confined to the guest tree.

impl crate::session::VMCraft {}
